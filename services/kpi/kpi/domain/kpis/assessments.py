"""Assessments (catalogue section 3)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

from casetime.events import local_date
from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.episodes import Assessment, Referral
from kpi.domain.kpis.base import Kpi, Measure, OpenClock, Outcome, Polarity, Standard
from kpi.domain.periods import add_months

ASSESSMENT_WORKING_DAYS = 45


def assessments_within_45_working_days_of_referral(
    book: CaseBook, ctx: RuleContext
) -> Iterator[Outcome]:
    """ASMT-45WD: assessments authorised in period; in time when
    ``wd_between(referral, authorised) <= 45``. An assessment whose referral has not arrived
    stays in the cohort and is not met (catalogue section 10.2); data quality lists it."""
    for a in book.all("assessment", Assessment):
        referral = book.get("referral", a.child_id, a.referral_id, Referral)
        received = referral.received_at if referral is not None else None
        yield from _timed_from(local_date(received) if received else None, a, ctx)


def assessments_within_45_working_days_of_start(
    book: CaseBook, ctx: RuleContext
) -> Iterator[Outcome]:
    """ASMT-45WD-DFE: the DfE basis, ``wd_between(start, authorised) <= 45``; its value is
    the duration in working days, so ASMT-MEDIAN is the median of the same outcomes. One whose
    start has not arrived is not met and has no duration."""
    for a in book.all("assessment", Assessment):
        yield from _timed_from(a.started_on, a, ctx)


def _timed_from(start: date | None, a: Assessment, ctx: RuleContext) -> Iterator[Outcome]:
    """An authorised assessment against 45 working days from ``start``, counted for the team
    that authorised it; its value is the duration in working days."""
    if a.authorised_on is None:
        return
    team = a.team_of("assessment_completed")
    if start is None:
        yield Outcome(team, a.authorised_on, False, a.child_id, a.episode_id)
        return
    elapsed = ctx.calendar.working_days_between(start, a.authorised_on)
    yield Outcome(
        team,
        a.authorised_on,
        elapsed <= ASSESSMENT_WORKING_DAYS,
        a.child_id,
        a.episode_id,
        value=elapsed,
        due=ctx.calendar.add_working_days(start, ASSESSMENT_WORKING_DAYS),
    )


def repeat_assessments_within_12_months(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """REPEAT-ASMT: assessments started in period; the same child had another assessment
    authorised on any day from 12 months before this one's start up to that start day
    (section 10.6)."""
    for a in book.all("assessment", Assessment):
        if a.started_on is None:
            continue
        window_start = add_months(a.started_on, -12)
        repeat = any(
            other.episode_id != a.episode_id
            and other.authorised_on is not None
            and window_start <= other.authorised_on <= a.started_on
            for other in book.of_child("assessment", a.child_id, Assessment)
        )
        yield Outcome(
            a.team_of("assessment_started"), a.started_on, repeat, a.child_id, a.episode_id
        )


def _open_assessments(book: CaseBook, ctx: RuleContext) -> Iterator[Assessment]:
    """Assessments started by the as-at date and not authorised by then."""
    for a in book.all("assessment", Assessment):
        if a.started_on is None or a.started_on > ctx.as_at:
            continue
        if a.authorised_on is None or a.authorised_on > ctx.as_at:
            yield a


def open_assessment_clocks(book: CaseBook, ctx: RuleContext) -> Iterator[OpenClock]:
    """Open assessments: due 45 working days after the referral (after the start when the
    referral has not arrived)."""
    for a in _open_assessments(book, ctx):
        referral = book.get("referral", a.child_id, a.referral_id, Referral)
        received = referral.received_at if referral is not None else None
        start = local_date(received) if received is not None else a.started_on
        assert start is not None
        due = ctx.calendar.add_working_days(start, ASSESSMENT_WORKING_DAYS)
        yield OpenClock("ASMT-45WD", a.team_at(ctx.as_at), a.child_id, a.episode_id, due)


def open_assessment_clocks_from_start(book: CaseBook, ctx: RuleContext) -> Iterator[OpenClock]:
    """Open assessments on the DfE basis: due 45 working days after the start."""
    for a in _open_assessments(book, ctx):
        assert a.started_on is not None
        due = ctx.calendar.add_working_days(a.started_on, ASSESSMENT_WORKING_DAYS)
        yield OpenClock("ASMT-45WD-DFE", a.team_at(ctx.as_at), a.child_id, a.episode_id, due)


ASMT_45WD = Kpi(
    "ASMT-45WD",
    "Assessments completed within 45 working days of referral",
    Polarity.HIGHER_IS_BETTER,
    assessments_within_45_working_days_of_referral,
    timeliness=True,
    open_clocks=open_assessment_clocks,
    standard=Standard(ASSESSMENT_WORKING_DAYS, "working days"),
)
ASMT_45WD_DFE = Kpi(
    "ASMT-45WD-DFE",
    "Assessments completed within 45 working days of the assessment starting (DfE basis)",
    Polarity.HIGHER_IS_BETTER,
    assessments_within_45_working_days_of_start,
    timeliness=True,
    open_clocks=open_assessment_clocks_from_start,
    reasons_of="ASMT-45WD",
    standard=Standard(ASSESSMENT_WORKING_DAYS, "working days"),
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
