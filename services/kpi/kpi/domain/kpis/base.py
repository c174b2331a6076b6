"""What every KPI shares: a rule turns the case book into outcomes, one per cohort member.

A ratio KPI's outcome says whether the member met the rule (numerator); a median or mean KPI's
outcome carries a value; a rate KPI counts members per 10,000 children. Each outcome keeps the
pseudonymous child and episode ids, so the figures can be traced to the cases behind them.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal, Protocol, TypeVar

from casetime.events import SourceDataset
from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.periods import Period

# Which datasets leave out a KPI's evidence (README, "What each source can feed").
RETURNS = frozenset({SourceDataset.CIN_CENSUS, SourceDataset.SSDA903})
EVERY_DATASET = frozenset(SourceDataset)

COUNCIL = "all"  # the team label of the council total
UNLISTED = "unlisted"  # the team label of every team the council file does not list


class Polarity(StrEnum):
    HIGHER_IS_BETTER = "higher"
    LOWER_IS_BETTER = "lower"
    CONTEXT = "context"  # rates: neither higher nor lower is better


class Measure(StrEnum):
    RATIO = "ratio"  # numerator / denominator, 0 to 1
    MEDIAN = "median"  # of the outcomes' values
    MEAN = "mean"
    RATE_PER_10000 = "rate_per_10000"  # cohort size per 10,000 children aged 0 to 17


@dataclass(frozen=True, slots=True)
class Outcome:
    """One cohort member: the team it counts for, the date that places it in a period, and
    whether it met the KPI's rule."""

    team: str
    counted_on: date
    met: bool
    child_id: str
    episode_id: str
    value: float | None = None  # median and mean KPIs
    due: date | None = None  # when the clock was due, for breach lists
    weight: int = 1  # aggregated outcomes (RECORDING-LAG counts events, not cases)


@dataclass(frozen=True, slots=True)
class OpenClock:
    """A clock still running at the as-at date (catalogue section 4). Hour clocks also carry the
    instant they fall due and their limit (due soon within a share of it, section 10.8)."""

    kpi: str
    team: str
    child_id: str
    episode_id: str
    due: date
    due_at: datetime | None = None
    limit: timedelta | None = None


@dataclass(frozen=True)
class Standard:
    """How long a KPI's clock runs: the M of "day N of M" on the team page. ``closes_into_cohort``:
    the clock's closing event is what puts a case in the period's cohort (assessments authorised
    in the month), so an open clock due by the period's end can still move that period's figure."""

    length: int
    unit: Literal["working days", "days", "hours"]
    closes_into_cohort: bool = True


@dataclass(frozen=True)
class Kpi:
    id: str
    title: str
    polarity: Polarity
    rule: Callable[[CaseBook, RuleContext], Iterator[Outcome]]
    measure: Measure = Measure.RATIO
    # Counted at the as-at date (children on a plan today) rather than over a period.
    point_in_time: bool = False
    unit: str = "ratio"
    # Breaches of this KPI's clock need a reason (catalogue section 5).
    timeliness: bool = False
    # Clocks of this KPI still running at the as-at date.
    open_clocks: Callable[[CaseBook, RuleContext], Iterator[OpenClock]] | None = None
    # The fixed length of those clocks, where they have one (visits and reviews vary).
    standard: Standard | None = None
    # Whether an outcome belongs to a period; by default, its counted_on date falls in it.
    belongs_to: Callable[[Outcome, Period], bool] | None = None
    # KPIs whose cohort is children: one outcome per child from those in the period.
    per_child: Callable[[list[Outcome]], list[Outcome]] | None = None
    # The KPI whose recorded exception reasons this one's breaches share (section 10.7).
    reasons_of: str | None = None
    # Counted per care proceedings application, across the children it names: its facts are
    # derived per application, not per child.
    per_application: bool = False
    # Datasets that never record this KPI's evidence (the returns hold no visit dates): what
    # is taken from them stays out of its cohort and clocks, so it shows no data, not 0%.
    unrecorded_in: frozenset[SourceDataset] = frozenset()

    def outcomes(self, book: CaseBook, ctx: RuleContext) -> Iterator[Outcome]:
        return self.rule(book.without(self.unrecorded_in), ctx)

    def in_period(self, outcomes: Iterable[Outcome], period: Period) -> list[Outcome]:
        if self.belongs_to is None:
            members = [o for o in outcomes if o.counted_on in period]
        else:
            members = [o for o in outcomes if self.belongs_to(o, period)]
        return members if self.per_child is None else self.per_child(members)


@dataclass(frozen=True, slots=True)
class Figure:
    numerator: int = 0
    denominator: int = 0
    value: float | None = None  # the ratio, median, mean or rate

    @property
    def ratio(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None


def figure(kpi: Kpi, outcomes: list[Outcome], population: int | None) -> Figure:
    met = sum(o.weight for o in outcomes if o.met)
    count = sum(o.weight for o in outcomes)
    if kpi.measure is Measure.RATIO:
        return Figure(met, count, met / count if count else None)
    if kpi.measure is Measure.RATE_PER_10000:
        rate = count / population * 10_000 if population else None
        return Figure(count, population or 0, rate)
    # medians and means are over the members with a duration (section 10.2)
    timed = [o for o in outcomes if o.value is not None]
    values = [o.value for o in timed if o.value is not None]
    met, count = sum(o.weight for o in timed if o.met), sum(o.weight for o in timed)
    if not values:
        return Figure(met, count, None)
    middle = (
        statistics.median(values) if kpi.measure is Measure.MEDIAN else statistics.fmean(values)
    )
    return Figure(met, count, float(middle))


class Spell(Protocol):
    """An episode that runs from a start to an end: a plan, a period of care, a placement."""

    @property
    def child_id(self) -> str: ...

    @property
    def started_on(self) -> date | None: ...

    @property
    def ended_on(self) -> date | None: ...


S = TypeVar("S", bound=Spell)


def open_at(start: date | None, end: date | None, as_at: date) -> bool:
    """Open on the as-at date: started on or before it, not ended on or before it."""
    return start is not None and start <= as_at and (end is None or end > as_at)


def open_per_child(spells: Iterable[S], as_at: date) -> dict[str, S]:
    """Each child's spell open at the as-at date (the latest started, if they overlap)."""
    current: dict[str, S] = {}
    for spell in spells:
        if open_at(spell.started_on, spell.ended_on, as_at):
            held = current.get(spell.child_id)
            if held is None or (spell.started_on or as_at) > (held.started_on or as_at):
                current[spell.child_id] = spell
    return current


def _one_per_child(outcomes: Iterable[Outcome], met_if_any: bool) -> list[Outcome]:
    """Each child once, as their earliest outcome (its team and date); met as that outcome is,
    or, with ``met_if_any``, when any of theirs is."""
    chosen: dict[str, Outcome] = {}
    for o in sorted(outcomes, key=lambda o: (o.counted_on, o.episode_id)):
        held = chosen.get(o.child_id)
        if held is None:
            chosen[o.child_id] = o
        elif met_if_any and o.met and not held.met:
            chosen[o.child_id] = replace(held, met=True)
    return list(chosen.values())


def first_per_child(outcomes: list[Outcome]) -> list[Outcome]:
    """A cohort of children counted from each child's first outcome in the period."""
    return _one_per_child(outcomes, met_if_any=False)


def any_per_child(outcomes: list[Outcome]) -> list[Outcome]:
    """A cohort of children, each met when any of their outcomes in the period is."""
    return _one_per_child(outcomes, met_if_any=True)


def by_team(outcomes: Iterable[Outcome]) -> dict[str, list[Outcome]]:
    """Outcomes per team, and all of them under the council (team ``all``)."""
    grouped: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        grouped[outcome.team].append(outcome)
        grouped[COUNCIL].append(outcome)
    return grouped
