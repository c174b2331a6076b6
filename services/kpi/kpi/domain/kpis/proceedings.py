"""Pre-proceedings and care proceedings (catalogue section 3)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta

from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.episodes import CareProceedings, PreProceedings
from kpi.domain.kpis.base import Kpi, Measure, OpenClock, Outcome, Polarity

PLO_DAYS = timedelta(days=16 * 7)
# "26 weeks beginning with the day" the application was issued (Children Act 1989 s.32): the
# issue day is day 1, so the last compliant day is issue + 181 days. Extensions do not move it
# for this KPI.
LAST_COMPLIANT_DAY = timedelta(days=26 * 7 - 1)


def pre_proceedings_within_16_weeks(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """PLO-16W: PLO episodes concluded in period; concluded <= 16 weeks (112 days) after start."""
    for plo in book.all("plo", PreProceedings):
        if plo.started_on is None or plo.concluded_on is None:
            continue
        due = plo.started_on + PLO_DAYS
        yield Outcome(
            plo.team, plo.concluded_on, plo.concluded_on <= due, plo.child_id, plo.episode_id,
            due=due,
        )  # fmt: skip


def proceedings_within_26_weeks(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """PROC-26W: proceedings concluded in period, per child; in time when
    ``concluded <= issued + 181 days``. The value is the duration in weeks (PROC-WEEKS)."""
    for case in book.all("care_proceedings", CareProceedings):
        if case.issued_on is None or case.concluded_on is None:
            continue
        due = case.issued_on + LAST_COMPLIANT_DAY
        yield Outcome(
            case.team,
            case.concluded_on,
            case.concluded_on <= due,
            case.child_id,
            case.episode_id,
            value=(case.concluded_on - case.issued_on).days / 7,
            due=due,
        )


def applications_within_26_weeks(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """PROC-26W-APPLICATION: the same per application: issued when the first child's
    proceedings were, concluded when the last child's were."""
    by_application: dict[str, list[CareProceedings]] = defaultdict(list)
    for case in book.all("care_proceedings", CareProceedings):
        by_application[case.episode_id].append(case)
    for application_id, cases in by_application.items():
        if any(c.issued_on is None or c.concluded_on is None for c in cases):
            continue
        issued = min(c.issued_on for c in cases if c.issued_on)
        last = max(cases, key=lambda c: c.concluded_on or issued)
        assert last.concluded_on is not None
        due = issued + LAST_COMPLIANT_DAY
        yield Outcome(
            last.team, last.concluded_on, last.concluded_on <= due, last.child_id, application_id,
            due=due,
        )  # fmt: skip


def open_proceedings_clocks(book: CaseBook, ctx: RuleContext) -> Iterator[OpenClock]:
    """Care proceedings issued and not concluded; PLO started and not concluded."""
    for case in book.all("care_proceedings", CareProceedings):
        if case.issued_on is None or case.issued_on > ctx.as_at:
            continue
        if case.concluded_on is None or case.concluded_on > ctx.as_at:
            due = case.issued_on + LAST_COMPLIANT_DAY
            yield OpenClock("PROC-26W", case.team, case.child_id, case.episode_id, due)
    for plo in book.all("plo", PreProceedings):
        if plo.started_on is None or plo.started_on > ctx.as_at:
            continue
        if plo.concluded_on is None or plo.concluded_on > ctx.as_at:
            due = plo.started_on + PLO_DAYS
            yield OpenClock("PLO-16W", plo.team, plo.child_id, plo.episode_id, due)


PLO_16W = Kpi(
    "PLO-16W",
    "Pre-proceedings concluded within 16 weeks",
    Polarity.HIGHER_IS_BETTER,
    pre_proceedings_within_16_weeks,
    timeliness=True,
)
PROC_26W = Kpi(
    "PROC-26W",
    "Care proceedings concluded within 26 weeks",
    Polarity.HIGHER_IS_BETTER,
    proceedings_within_26_weeks,
    timeliness=True,
    open_clocks=open_proceedings_clocks,
)
PROC_26W_APPLICATION = Kpi(
    "PROC-26W-APPLICATION",
    "Care proceedings concluded within 26 weeks, per application",
    Polarity.HIGHER_IS_BETTER,
    applications_within_26_weeks,
    timeliness=True,
)
PROC_WEEKS = Kpi(
    "PROC-WEEKS",
    "Average care proceedings duration (mean weeks)",
    Polarity.LOWER_IS_BETTER,
    proceedings_within_26_weeks,
    measure=Measure.MEAN,
    unit="weeks",
)
PROC_WEEKS_MEDIAN = Kpi(
    "PROC-WEEKS-MEDIAN",
    "Median care proceedings duration (weeks)",
    Polarity.LOWER_IS_BETTER,
    proceedings_within_26_weeks,
    measure=Measure.MEDIAN,
    unit="weeks",
)

PROCEEDINGS_KPIS = (PLO_16W, PROC_26W, PROC_26W_APPLICATION, PROC_WEEKS, PROC_WEEKS_MEDIAN)
