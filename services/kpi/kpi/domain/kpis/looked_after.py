"""Looked-after children: visits, reviews, health, placements, returns (catalogue section 3)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.episodes import DatedCheck, PeriodOfCare, Placement, Visit
from kpi.domain.kpis.base import (
    RETURNS,
    Kpi,
    OpenClock,
    Outcome,
    Polarity,
    first_per_child,
    open_at,
    open_per_child,
)
from kpi.domain.periods import Period, add_months

FIRST_VISIT = timedelta(weeks=1)
VISIT_INTERVAL = timedelta(weeks=6)
PERMANENT_VISIT_MONTHS = 3
FIRST_REVIEW_WORKING_DAYS = 20


def age_on(birth_month: str | None, day: date) -> int | None:
    """Age in whole years, taking the first of the birth month as the birthday (only the month
    and year of birth are held)."""
    if birth_month is None:
        return None
    year, month = (int(part) for part in birth_month.split("-"))
    return day.year - year - ((day.month, day.day) < (month, 1))


def looked_after_at(book: CaseBook, as_at: date) -> dict[str, PeriodOfCare]:
    """Each child's open period of care at the as-at date."""
    return open_per_child(book.all("period_of_care", PeriodOfCare), as_at)


def _continuous_start(book: CaseBook, poc: PeriodOfCare) -> date:
    """Start of continuous care: periods of care that follow one another with no gap join up."""
    assert poc.started_on is not None
    start = poc.started_on
    others = sorted(
        (p for p in book.of_child("period_of_care", poc.child_id, PeriodOfCare) if p.started_on),
        key=lambda p: p.started_on or start,
        reverse=True,
    )
    for p in others:
        if p.ended_on is not None and p.ended_on == start and p.started_on is not None:
            start = p.started_on
    return start


def _current_placement(book: CaseBook, child_id: str, as_at: date) -> Placement | None:
    open_now = [
        p
        for p in book.of_child("placement", child_id, Placement)
        if open_at(p.started_on, p.ended_on, as_at)
    ]
    return max(open_now, key=lambda p: p.started_on or as_at, default=None)


def next_visit_due(book: CaseBook, placement: Placement, as_at: date) -> date:
    """Regulation 28: within 1 week of the placement starting, then at most 6 weeks apart in the
    placement's first year, then at most 3 months apart if the placement is permanent (else 6
    weeks). Any visit in which the child was seen counts, whatever it names (section 10.4)."""
    assert placement.started_on is not None
    start = placement.started_on
    visits = sorted(
        v.held_on
        for v in book.of_child("visit", placement.child_id, Visit)
        if v.child_seen and start <= v.held_on <= as_at
    )
    due = start + FIRST_VISIT
    first_year_ends = add_months(start, 12)
    for held_on in visits:
        if held_on < first_year_ends or not placement.permanent:
            due = held_on + VISIT_INTERVAL
        else:
            due = add_months(held_on, PERMANENT_VISIT_MONTHS)
    return due


def children_visited_in_time(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """CLA-VISITS: children looked after at the as-at date; the latest visit is within its
    interval, so the next one is not overdue."""
    for child_id, poc in looked_after_at(book, ctx.as_at).items():
        placement = _current_placement(book, child_id, ctx.as_at)
        if placement is None:
            continue
        due = next_visit_due(book, placement, ctx.as_at)
        team = poc.team_at(ctx.as_at)
        yield Outcome(team, ctx.as_at, ctx.as_at <= due, child_id, poc.episode_id, due=due)


def next_review_due(book: CaseBook, poc: PeriodOfCare, ctx: RuleContext) -> date:
    """Regulation 33: the first review within 20 working days of the period of care starting,
    the second within 3 months of the first, then at most 6 months apart."""
    assert poc.started_on is not None
    reviews = sorted(
        r.held_on
        for r in book.of_child("looked_after_review", poc.child_id, DatedCheck)
        if poc.started_on <= r.held_on <= ctx.as_at
    )
    if not reviews:
        return ctx.calendar.add_working_days(poc.started_on, FIRST_REVIEW_WORKING_DAYS)
    return add_months(reviews[-1], 3 if len(reviews) == 1 else 6)


def children_with_up_to_date_reviews(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """CLA-REVIEWS: children looked after at the as-at date; no review overdue."""
    for child_id, poc in looked_after_at(book, ctx.as_at).items():
        due = next_review_due(book, poc, ctx)
        team = poc.team_at(ctx.as_at)
        yield Outcome(team, ctx.as_at, ctx.as_at <= due, child_id, poc.episode_id, due=due)


def _looked_after_12_months(book: CaseBook, ctx: RuleContext) -> Iterator[PeriodOfCare]:
    threshold = add_months(ctx.as_at, -12)
    for poc in looked_after_at(book, ctx.as_at).values():
        if _continuous_start(book, poc) <= threshold:
            yield poc


def _latest_check(book: CaseBook, kind: str, child_id: str, as_at: date) -> date | None:
    return max(
        (c.held_on for c in book.of_child(kind, child_id, DatedCheck) if c.held_on <= as_at),
        default=None,
    )


def health_assessments_up_to_date(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """CLA-HEALTH: looked after 12 months or more; a health assessment within 6 months (under
    5) or 12 months (5 and over). A child whose age is not known is held to 6 months."""
    for poc in _looked_after_12_months(book, ctx):
        age = age_on(book.birth_month(poc.child_id, ctx.as_at), ctx.as_at)
        months = 12 if age is not None and age >= 5 else 6
        latest = _latest_check(book, "health_assessment", poc.child_id, ctx.as_at)
        met = latest is not None and latest >= add_months(ctx.as_at, -months)
        yield Outcome(poc.team_at(ctx.as_at), ctx.as_at, met, poc.child_id, poc.episode_id)


def dental_checks_up_to_date(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """CLA-DENTAL: looked after 12 months or more; a dental check within 12 months."""
    for poc in _looked_after_12_months(book, ctx):
        latest = _latest_check(book, "dental_check", poc.child_id, ctx.as_at)
        met = latest is not None and latest >= add_months(ctx.as_at, -12)
        yield Outcome(poc.team_at(ctx.as_at), ctx.as_at, met, poc.child_id, poc.episode_id)


def three_or_more_placements(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """PLACEMENT-3PLUS: children looked after at the as-at date; 3 or more placements started
    in the 12 months before, the day exactly 12 months before included (section 10.6)."""
    window_start = add_months(ctx.as_at, -12)
    for child_id, poc in looked_after_at(book, ctx.as_at).items():
        started = [
            p
            for p in book.of_child("placement", child_id, Placement)
            if p.started_on is not None and window_start <= p.started_on <= ctx.as_at
        ]
        team = poc.team_at(ctx.as_at)
        yield Outcome(team, ctx.as_at, len(started) >= 3, child_id, poc.episode_id)


def long_term_placement_stability(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """PLACEMENT-LONGTERM: under 16, looked after continuously 2.5 years or more; in the same
    placement for 2 years or more."""
    for child_id, poc in looked_after_at(book, ctx.as_at).items():
        age = age_on(book.birth_month(child_id, ctx.as_at), ctx.as_at)
        if age is None or age >= 16:
            continue
        if _continuous_start(book, poc) > add_months(ctx.as_at, -30):
            continue
        placement = _current_placement(book, child_id, ctx.as_at)
        met = placement is not None and (placement.started_on or ctx.as_at) <= add_months(
            ctx.as_at, -24
        )
        yield Outcome(poc.team_at(ctx.as_at), ctx.as_at, met, child_id, poc.episode_id)


def returns_to_care_within_12_months(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """RETURN-12M: children who left care to return home; started a new period of care within
    12 months of leaving (and by the as-at date). Counted on the day they left, for the team
    that ended the period of care; see ``left_in_the_12_months_before`` for which period that
    belongs to. Each child once, from their first return home in the window (section 10.5)."""
    home = set(ctx.settings.return_home_reasons)
    for poc in book.all("period_of_care", PeriodOfCare):
        if poc.ended_on is None or poc.ended_on > ctx.as_at or poc.reason_ceased not in home:
            continue
        back_by = min(add_months(poc.ended_on, 12), ctx.as_at)
        returned = any(
            p.started_on is not None and poc.ended_on <= p.started_on <= back_by
            for p in book.of_child("period_of_care", poc.child_id, PeriodOfCare)
            if p.episode_id != poc.episode_id
        )
        team = poc.team_of("period_of_care_ended")
        yield Outcome(team, poc.ended_on, returned, poc.child_id, poc.episode_id)


def left_in_the_12_months_before(outcome: Outcome, period: Period) -> bool:
    return add_months(period.start, -12) <= outcome.counted_on < period.start


def open_looked_after_clocks(book: CaseBook, ctx: RuleContext) -> Iterator[OpenClock]:
    """For every child looked after: the next statutory visit and the next review."""
    for child_id, poc in looked_after_at(book, ctx.as_at).items():
        placement = _current_placement(book, child_id, ctx.as_at)
        team = poc.team_at(ctx.as_at)
        if placement is not None:
            due = next_visit_due(book, placement, ctx.as_at)
            yield OpenClock("CLA-VISITS", team, child_id, poc.episode_id, due)
        due = next_review_due(book, poc, ctx)
        yield OpenClock("CLA-REVIEWS", team, child_id, poc.episode_id, due)


CLA_VISITS = Kpi(
    "CLA-VISITS",
    "Looked-after children visited in time",
    Polarity.HIGHER_IS_BETTER,
    children_visited_in_time,
    point_in_time=True,
    timeliness=True,
    open_clocks=open_looked_after_clocks,
    unrecorded_in=RETURNS,
)
CLA_REVIEWS = Kpi(
    "CLA-REVIEWS",
    "Looked-after children with an up-to-date review",
    Polarity.HIGHER_IS_BETTER,
    children_with_up_to_date_reviews,
    point_in_time=True,
    timeliness=True,
)
CLA_HEALTH = Kpi(
    "CLA-HEALTH",
    "Health assessments up to date",
    Polarity.HIGHER_IS_BETTER,
    health_assessments_up_to_date,
    point_in_time=True,
    unrecorded_in=RETURNS,
)
CLA_DENTAL = Kpi(
    "CLA-DENTAL",
    "Dental checks up to date",
    Polarity.HIGHER_IS_BETTER,
    dental_checks_up_to_date,
    point_in_time=True,
    unrecorded_in=RETURNS,
)
PLACEMENT_3PLUS = Kpi(
    "PLACEMENT-3PLUS",
    "Three or more placements in 12 months",
    Polarity.LOWER_IS_BETTER,
    three_or_more_placements,
    point_in_time=True,
)
PLACEMENT_LONGTERM = Kpi(
    "PLACEMENT-LONGTERM",
    "Long-term placement stability",
    Polarity.HIGHER_IS_BETTER,
    long_term_placement_stability,
    point_in_time=True,
)
RETURN_12M = Kpi(
    "RETURN-12M",
    "Returns to care within 12 months",
    Polarity.LOWER_IS_BETTER,
    returns_to_care_within_12_months,
    belongs_to=left_in_the_12_months_before,
    per_child=first_per_child,
)

LOOKED_AFTER_KPIS = (
    CLA_VISITS,
    CLA_REVIEWS,
    CLA_HEALTH,
    CLA_DENTAL,
    PLACEMENT_3PLUS,
    PLACEMENT_LONGTERM,
    RETURN_12M,
)
