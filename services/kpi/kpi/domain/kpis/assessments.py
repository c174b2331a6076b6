"""Assessments (catalogue section 3)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date

from casetime.events import local_date
from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.episodes import Assessment, Referral
from kpi.domain.kpis.base import Kpi, Measure, OpenClock, Outcome, Polarity
from kpi.domain.periods import add_months

ASSESSMENT_WORKING_DAYS = 45


def assessments_within_45_working_days_of_referral(
    book: CaseBook, ctx: RuleContext
) -> Iterator[Outcome]:
    """ASMT-45WD: assessments authorised in period; in time when
    ``wd_between(referral, authorised) <= 45``. An assessment whose referral has not arrived
    cannot be timed: it is left out (and flagged by data quality) rather than guessed."""
    for a in book.all("assessment", Assessment):
        referral = book.get("referral", a.child_id, a.referral_id, Referral)
        if referral is not None and referral.received_at is not None:
            yield from _timed_from(local_date(referral.received_at), a, ctx)


def assessments_within_45_working_days_of_start(
    book: CaseBook, ctx: RuleContext
) -> Iterator[Outcome]:
    """ASMT-45WD-DFE: the DfE basis, ``wd_between(start, authorised) <= 45``; its value is
    the duration in working days, so ASMT-MEDIAN is the median of the same outcomes."""
    for a in book.all("assessment", Assessment):
        if a.started_on is not None:
            yield from _timed_from(a.started_on, a, ctx)


def _timed_from(start: date, a: Assessment, ctx: RuleContext) -> Iterator[Outcome]:
    """An authorised assessment against 45 working days from ``start``; its value is the
    duration in working days."""
    if a.authorised_on is None:
        return
    elapsed = ctx.calendar.working_days_between(start, a.authorised_on)
    yield Outcome(
        a.team,
        a.authorised_on,
        elapsed <= ASSESSMENT_WORKING_DAYS,
        a.child_id,
        a.episode_id,
        value=elapsed,
        due=ctx.calendar.add_working_days(start, ASSESSMENT_WORKING_DAYS),
    )


def repeat_assessments_within_12_months(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """REPEAT-ASMT: assessments started in period; the same child had an assessment completed
    in the 12 months before this one started."""
    authorised: dict[str, list[Assessment]] = defaultdict(list)
    for a in book.all("assessment", Assessment):
        authorised[a.child_id].append(a)
    for a in book.all("assessment", Assessment):
        if a.started_on is None:
            continue
        window_start = add_months(a.started_on, -12)
        repeat = any(
            other.episode_id != a.episode_id
            and other.authorised_on is not None
            and window_start <= other.authorised_on < a.started_on
            for other in authorised[a.child_id]
        )
        yield Outcome(a.team, a.started_on, repeat, a.child_id, a.episode_id)


def open_assessment_clocks(book: CaseBook, ctx: RuleContext) -> Iterator[OpenClock]:
    """Assessments started and not yet authorised: due 45 working days after the referral."""
    for a in book.all("assessment", Assessment):
        if a.started_on is None or a.started_on > ctx.as_at:
            continue
        if a.authorised_on is not None and a.authorised_on <= ctx.as_at:
            continue
        referral = book.get("referral", a.child_id, a.referral_id, Referral)
        start = local_date(referral.received_at) if referral and referral.received_at else None
        due = ctx.calendar.add_working_days(start or a.started_on, ASSESSMENT_WORKING_DAYS)
        yield OpenClock("ASMT-45WD", a.team, a.child_id, a.episode_id, due)


ASMT_45WD = Kpi(
    "ASMT-45WD",
    "Assessments completed within 45 working days of referral",
    Polarity.HIGHER_IS_BETTER,
    assessments_within_45_working_days_of_referral,
    timeliness=True,
    open_clocks=open_assessment_clocks,
)
ASMT_45WD_DFE = Kpi(
    "ASMT-45WD-DFE",
    "Assessments completed within 45 working days of the assessment starting (DfE basis)",
    Polarity.HIGHER_IS_BETTER,
    assessments_within_45_working_days_of_start,
    timeliness=True,
)
ASMT_MEDIAN = Kpi(
    "ASMT-MEDIAN",
    "Median assessment duration (working days, DfE basis)",
    Polarity.LOWER_IS_BETTER,
    assessments_within_45_working_days_of_start,
    measure=Measure.MEDIAN,
    unit="working_days",
)
REPEAT_ASMT = Kpi(
    "REPEAT-ASMT",
    "Repeat assessments within 12 months",
    Polarity.LOWER_IS_BETTER,
    repeat_assessments_within_12_months,
)

ASSESSMENT_KPIS = (ASMT_45WD, ASMT_45WD_DFE, ASMT_MEDIAN, REPEAT_ASMT)
