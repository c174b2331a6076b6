"""Care proceedings timeliness (catalogue section 3)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta

from kpi.domain.calendar import WorkingDayCalendar
from kpi.domain.episodes import CareProceedings
from kpi.domain.kpis.base import Outcome, Polarity, RatioKpi

# "26 weeks beginning with the day" the application was issued (Children Act 1989 s.32): the
# issue day is day 1, so the last compliant day is issue + 181 days. Extensions do not move it
# for this KPI.
LAST_COMPLIANT_DAY = timedelta(days=26 * 7 - 1)


def _concluded_within_26_weeks(
    proceedings: Sequence[CareProceedings], _: WorkingDayCalendar
) -> Iterator[Outcome]:
    """PROC-26W: proceedings concluded in period, per child; in time when
    ``concluded <= issued + 181 days``."""
    for case in proceedings:
        if case.issued_on is None or case.concluded_on is None:
            continue
        yield Outcome(
            case.team, case.concluded_on, case.concluded_on <= case.issued_on + LAST_COMPLIANT_DAY
        )


PROC_26W = RatioKpi(
    id="PROC-26W",
    title="Care proceedings concluded within 26 weeks",
    polarity=Polarity.HIGHER_IS_BETTER,
    rule=_concluded_within_26_weeks,
)
