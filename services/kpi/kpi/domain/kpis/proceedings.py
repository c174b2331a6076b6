"""Pre-proceedings and care proceedings (catalogue section 3)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta

from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.episodes import CareProceedings, PreProceedings
from kpi.domain.kpis.base import EVERY_DATASET, Kpi, Measure, OpenClock, Outcome, Polarity, Standard

PLO_DAYS = timedelta(days=16 * 7)
# "26 weeks beginning with the day" the application was issued (Children Act 1989 s.32): the
# issue day is day 1, so the last compliant day is issue + 181 days. Extensions do not move it
# for this KPI.
LAST_COMPLIANT_DAY = timedelta(days=26 * 7 - 1)


def pre_proceedings_within_16_weeks(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """PLO-16W: PLO episodes concluded in period; concluded <= 16 weeks (112 days) after start.
    One whose start has not arrived is not met (catalogue section 10.2)."""
    for plo in book.all("plo", PreProceedings):
        if plo.concluded_on is None:
            continue
        team = plo.team_of("plo_concluded")
        if plo.started_on is None:
            yield Outcome(team, plo.concluded_on, False, plo.child_id, plo.episode_id)
            continue
        due = plo.started_on + PLO_DAYS
        met = plo.concluded_on <= due
        yield Outcome(team, plo.concluded_on, met, plo.child_id, plo.episode_id, due=due)


def proceedings_within_26_weeks(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """PROC-26W: proceedings concluded in period, per child; in time when
    ``concluded <= issued + 181 days``. The value is the duration in weeks (PROC-WEEKS);
    proceedings concluded with no issue date are not met and have no duration."""
    for case in book.all("care_proceedings", CareProceedings):
        if case.concluded_on is None:
            continue
        team = case.team_of("care_proceedings_concluded")
        if case.issued_on is None:
            yield Outcome(team, case.concluded_on, False, case.child_id, case.episode_id)
            continue
        due = case.issued_on + LAST_COMPLIANT_DAY
        yield Outcome(
            team,
            case.concluded_on,
            case.concluded_on <= due,
            case.child_id,
            case.episode_id,
            value=(case.concluded_on - case.issued_on).days / 7,
            due=due,
        )


def _applications(book: CaseBook) -> dict[str, list[CareProceedings]]:
    by_application: dict[str, list[CareProceedings]] = defaultdict(list)
    for case in book.all("care_proceedings", CareProceedings):
        by_application[case.episode_id].append(case)
    return by_application


def applications_within_26_weeks(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """PROC-26W-APPLICATION: the same per application: issued when the first child's
    proceedings were, concluded when the last child's were, for the team that concluded them."""
    for application_id, cases in _applications(book).items():
        if any(c.concluded_on is None for c in cases):
            continue
        last = max(cases, key=lambda c: (c.concluded_on, c.child_id))
        assert last.concluded_on is not None
        team = last.team_of("care_proceedings_concluded")
        issued = min((c.issued_on for c in cases if c.issued_on), default=None)
        if issued is None:
            yield Outcome(team, last.concluded_on, False, last.child_id, application_id)
            continue
        due = issued + LAST_COMPLIANT_DAY
        met = last.concluded_on <= due
        yield Outcome(team, last.concluded_on, met, last.child_id, application_id, due=due)


def open_proceedings_clocks(book: CaseBook, ctx: RuleContext) -> Iterator[OpenClock]:
    """Care proceedings issued by the as-at date and not concluded by then."""
    for case in book.all("care_proceedings", CareProceedings):
        if case.issued_on is None or case.issued_on > ctx.as_at:
            continue
        if case.concluded_on is None or case.concluded_on > ctx.as_at:
            due = case.issued_on + LAST_COMPLIANT_DAY
            team = case.team_at(ctx.as_at)
            yield OpenClock("PROC-26W", team, case.child_id, case.episode_id, due)


def open_application_clocks(book: CaseBook, ctx: RuleContext) -> Iterator[OpenClock]:
    """Applications issued by the as-at date with a child's proceedings still running, held by
    the team of the first child's proceedings."""
    for application_id, cases in _applications(book).items():
        issued = [c for c in cases if c.issued_on is not None and c.issued_on <= ctx.as_at]
        if not issued or all(c.concluded_on and c.concluded_on <= ctx.as_at for c in cases):
            continue
        first = min(issued, key=lambda c: (c.issued_on, c.child_id))
        assert first.issued_on is not None
        due = first.issued_on + LAST_COMPLIANT_DAY
        team = first.team_at(ctx.as_at)
        yield OpenClock("PROC-26W-APPLICATION", team, first.child_id, application_id, due)


def open_pre_proceedings_clocks(book: CaseBook, ctx: RuleContext) -> Iterator[OpenClock]:
    """PLO started by the as-at date and not concluded by then."""
    for plo in book.all("plo", PreProceedings):
        if plo.started_on is None or plo.started_on > ctx.as_at:
            continue
        if plo.concluded_on is None or plo.concluded_on > ctx.as_at:
            due = plo.started_on + PLO_DAYS
            yield OpenClock("PLO-16W", plo.team_at(ctx.as_at), plo.child_id, plo.episode_id, due)


PLO_16W = Kpi(
    "PLO-16W",
    "Pre-proceedings concluded within 16 weeks",
    Polarity.HIGHER_IS_BETTER,
    pre_proceedings_within_16_weeks,
    timeliness=True,
    open_clocks=open_pre_proceedings_clocks,
    standard=Standard(PLO_DAYS.days, "days"),
)
PROC_26W = Kpi(
    "PROC-26W",
    "Care proceedings concluded within 26 weeks",
    Polarity.HIGHER_IS_BETTER,
    proceedings_within_26_weeks,
    timeliness=True,
    open_clocks=open_proceedings_clocks,
    standard=Standard(LAST_COMPLIANT_DAY.days + 1, "days"),
    unrecorded_in=EVERY_DATASET,
)
PROC_26W_APPLICATION = Kpi(
    "PROC-26W-APPLICATION",
    "Care proceedings concluded within 26 weeks, per application",
    Polarity.HIGHER_IS_BETTER,
    applications_within_26_weeks,
    timeliness=True,
    open_clocks=open_application_clocks,
    reasons_of="PROC-26W",
    per_application=True,
    standard=Standard(LAST_COMPLIANT_DAY.days + 1, "days"),
    unrecorded_in=EVERY_DATASET,
)
PROC_WEEKS = Kpi(
    "PROC-WEEKS",
    "Average care proceedings duration (mean weeks)",
    Polarity.LOWER_IS_BETTER,
    proceedings_within_26_weeks,
    measure=Measure.MEAN,
    unit="weeks",
    unrecorded_in=EVERY_DATASET,
)
PROC_WEEKS_MEDIAN = Kpi(
    "PROC-WEEKS-MEDIAN",
    "Median care proceedings duration (weeks)",
    Polarity.LOWER_IS_BETTER,
    proceedings_within_26_weeks,
    measure=Measure.MEDIAN,
    unit="weeks",
    unrecorded_in=EVERY_DATASET,
)

PROCEEDINGS_KPIS = (PLO_16W, PROC_26W, PROC_26W_APPLICATION, PROC_WEEKS, PROC_WEEKS_MEDIAN)
