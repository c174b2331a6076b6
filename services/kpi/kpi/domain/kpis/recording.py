"""Data quality as a KPI: how promptly events are recorded (catalogue section 3)."""

from __future__ import annotations

from collections.abc import Iterator

from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.kpis.base import EVERY_DATASET, Kpi, Outcome, Polarity

RECORDING_WORKING_DAYS = 1


def events_recorded_within_1_working_day(book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
    """RECORDING-LAG: events received in period (by the day they were recorded);
    ``wd_between(happened, recorded) <= 1``. Counts events, not children."""
    for group in book.recordings:
        lag = ctx.calendar.working_days_between(group.occurred_on, group.recorded_on)
        yield Outcome(
            group.team,
            group.recorded_on,
            lag <= RECORDING_WORKING_DAYS,
            child_id="",
            episode_id="",
            weight=group.count,
        )


RECORDING_LAG = Kpi(
    "RECORDING-LAG",
    "Events recorded within 1 working day of happening",
    Polarity.HIGHER_IS_BETTER,
    events_recorded_within_1_working_day,
    unrecorded_in=EVERY_DATASET,
)
