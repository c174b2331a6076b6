"""What every ratio KPI shares: a cohort member closes a clock on a date, in time or not."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Generic, TypeVar

from kpi.domain.calendar import WorkingDayCalendar
from kpi.domain.periods import Period

COUNCIL = "all"  # the team label of the council total


class Polarity(StrEnum):
    HIGHER_IS_BETTER = "higher"
    LOWER_IS_BETTER = "lower"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One cohort member: the team it counts for, the date that places it in a period, and
    whether it met the KPI's rule (the numerator)."""

    team: str
    counted_on: date
    met: bool


@dataclass(frozen=True, slots=True)
class Tally:
    numerator: int = 0
    denominator: int = 0

    @property
    def ratio(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


Inputs = TypeVar("Inputs")


@dataclass(frozen=True)
class RatioKpi(Generic[Inputs]):
    id: str
    title: str
    polarity: Polarity
    rule: Callable[[Inputs, WorkingDayCalendar], Iterator[Outcome]]

    def outcomes(self, inputs: Inputs, calendar: WorkingDayCalendar) -> list[Outcome]:
        return list(self.rule(inputs, calendar))


def tally_by_team(outcomes: Iterable[Outcome], period: Period) -> dict[str, Tally]:
    """Numerator and denominator per team, and for the council (team ``all``)."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for outcome in outcomes:
        if outcome.counted_on not in period:
            continue
        for team in (outcome.team, COUNCIL):
            counts[team][1] += 1
            counts[team][0] += outcome.met
    return {team: Tally(n, d) for team, (n, d) in counts.items()}
