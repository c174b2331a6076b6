"""KPI facts: what one child (or one care proceedings application) adds to every figure.

Every rule looks only at one child's episodes, except PROC-26W-APPLICATION, which looks at the
children of one application. So the figures as at a date are sums over *units* (a child, or an
application) of each unit's facts: its contributions to each figure's numerator and
denominator, to the values a median or mean is taken over, and to the counts of open clocks,
breaches and data-quality issues, with the child-level rows behind them. When an event touches
a unit, its facts are derived again (a pure function of its episodes) and only the difference
is added to the stored totals; a figure is then a read of its totals, whatever the case book's
size. ``evaluate`` (the whole book at once) stays the reference these must equal.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from typing import TypeVar

from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.council import CouncilConfig
from kpi.domain.data_quality import (
    Check,
    Issue,
    data_quality_issues,
    teams_named,
    unlisted_teams,
)
from kpi.domain.evaluation import (
    AS_AT,
    Breach,
    ClockState,
    Evaluation,
    KpiFigure,
    OpenClockStatus,
    ServiceFigure,
    breaches_of,
    clock_status,
    guarded,
    windows,
)
from kpi.domain.kpis import CATALOGUE, open_clocks
from kpi.domain.kpis.base import COUNCIL, Figure, Kpi, Measure, Outcome
from kpi.domain.periods import periods_ending

CHILD = "c"
APPLICATION = "a"
SEPARATOR = "\x1f"  # between the parts of a cell key; never in a team name or KPI id

# A cell's key: its family and parts. Families:
#   f kpi period team         figure: numerator, denominator (as ``figure`` counts them)
#   v kpi period team value   a median's or mean's value: how many members have it
#   t kpi team                outcomes up to the as-at date: the teams a KPI shows figures for
#   b kpi period team reason  breaches
#   c kpi team state          open clocks
#   i check                   data-quality issues
#   n team                    episodes naming the team (for teams the council file omits)
CellKey = tuple[str, ...]
Cells = dict[CellKey, tuple[int, int]]


def unit_of_child(child_id: str) -> str:
    return f"{CHILD}:{child_id}"


def unit_of_application(application_id: str) -> str:
    return f"{APPLICATION}:{application_id}"


def split_unit(unit: str) -> tuple[str, str]:
    kind, _, key = unit.partition(":")
    return kind, key


@dataclass
class UnitFacts:
    """One unit's facts as at one date."""

    cells: Cells = field(default_factory=dict)
    breaches: list[Breach] = field(default_factory=list)
    clocks: list[OpenClockStatus] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)

    def add(self, key: CellKey, numerator: int, denominator: int = 0) -> None:
        n, d = self.cells.get(key, (0, 0))
        self.cells[key] = (n + numerator, d + denominator)


def _kpis_of(unit_kind: str) -> list[Kpi]:
    return [k for k in CATALOGUE if k.per_application == (unit_kind == APPLICATION)]


def unit_facts(unit_kind: str, book: CaseBook, ctx: RuleContext) -> UnitFacts:
    """Every fact of the unit whose episodes are ``book`` (one child's, or one application's
    proceedings and exceptions), as at ``ctx.as_at``."""
    facts = UnitFacts()
    failures: list[Issue] = []
    for kpi in _kpis_of(unit_kind):
        _kpi_facts(kpi, book, ctx, facts, failures)
        if kpi.open_clocks is not None:
            ruled = guarded(f"{kpi.id} open clocks", partial(open_clocks, kpi), book, ctx, failures)
            facts.clocks.extend(clock_status(clock, ctx) for clock in ruled)
    if unit_kind == CHILD:
        facts.issues.extend(guarded("data quality", data_quality_issues, book, ctx, failures))
        for team, episodes in teams_named(book.episodes(), ctx.as_at).items():
            facts.add(("n", team), episodes)
    facts.issues.extend(failures)
    for b in facts.breaches:
        facts.add(("b", b.kpi, b.period, b.team, b.reason), 1)
    for c in facts.clocks:
        facts.add(("c", c.clock.kpi, c.clock.team, c.state.value), 1)
    for i in facts.issues:
        facts.add(("i", i.check.value), 1)
    return facts


def _kpi_facts(
    kpi: Kpi, book: CaseBook, ctx: RuleContext, facts: UnitFacts, failures: list[Issue]
) -> None:
    """One KPI's contributions, counted as ``evaluation._count_kpi`` and ``figure`` count."""
    ruled = guarded(kpi.id, kpi.outcomes, book, ctx, failures)
    outcomes = [o for o in ruled if o.counted_on <= ctx.as_at]
    if not outcomes:
        return
    for team, count in Counter(o.team for o in outcomes).items():
        facts.add(("t", kpi.id, team), count)
    for label, members in windows(kpi, outcomes, ctx.as_at):
        by_team: dict[str, list[Outcome]] = defaultdict(list)
        for o in members:
            by_team[o.team].append(o)
        for team, ours in by_team.items():
            _member_facts(kpi, label, team, ours, facts)
        if kpi.timeliness:
            facts.breaches.extend(breaches_of(kpi, label, members, book, ctx.as_at))


def _member_facts(
    kpi: Kpi, label: str, team: str, members: list[Outcome], facts: UnitFacts
) -> None:
    if kpi.measure in (Measure.RATIO, Measure.RATE_PER_10000):
        met = sum(o.weight for o in members if o.met)
        facts.add(("f", kpi.id, label, team), met, sum(o.weight for o in members))
        return
    timed = [o for o in members if o.value is not None]
    met = sum(o.weight for o in timed if o.met)
    facts.add(("f", kpi.id, label, team), met, sum(o.weight for o in timed))
    for value, count in Counter(o.value for o in timed).items():
        facts.add(("v", kpi.id, label, team, repr(value)), count)


def difference(old: Cells, new: Cells) -> Cells:
    """What to add to the totals to replace ``old`` by ``new`` (zero changes left out)."""
    delta: Cells = {}
    for key in old.keys() | new.keys():
        n0, d0 = old.get(key, (0, 0))
        n1, d1 = new.get(key, (0, 0))
        if (n1 - n0, d1 - d0) != (0, 0):
            delta[key] = (n1 - n0, d1 - d0)
    return delta


def add_cells(totals: Cells, more: Mapping[CellKey, tuple[int, int]]) -> None:
    for key, (n, d) in more.items():
        n0, d0 = totals.get(key, (0, 0))
        totals[key] = (n0 + n, d0 + d)


def encode_key(key: CellKey) -> str:
    return SEPARATOR.join(key)


def decode_key(text: str) -> CellKey:
    return tuple(text.split(SEPARATOR))


# --- the figures, from the totals ------------------------------------------------------------


@dataclass
class _Sums:
    numerator: int = 0
    denominator: int = 0
    values: Counter[float] = field(default_factory=Counter)

    def add(self, other: _Sums) -> None:
        self.numerator += other.numerator
        self.denominator += other.denominator
        self.values.update(other.values)


def _median(values: Counter[float]) -> float:
    """``statistics.median`` of the values, each as many times as counted."""
    ordered = sorted(values.items())
    total = sum(values.values())

    def at(index: int) -> float:
        seen = 0
        for value, count in ordered:
            seen += count
            if index < seen:
                return value
        raise IndexError(index)

    if total % 2:
        return at(total // 2)
    return (at(total // 2 - 1) + at(total // 2)) / 2


def _figure_of(kpi: Kpi, sums: _Sums, population: int | None) -> Figure:
    """``base.figure`` from summed contributions."""
    n, d = sums.numerator, sums.denominator
    if kpi.measure is Measure.RATIO:
        return Figure(n, d, n / d if d else None)
    if kpi.measure is Measure.RATE_PER_10000:
        rate = d / population * 10_000 if population else None
        return Figure(d, population or 0, rate)
    values = +sums.values
    if not values:
        return Figure(n, d, None)
    if kpi.measure is Measure.MEDIAN:
        return Figure(n, d, float(_median(values)))
    expanded = [v for v, count in sorted(values.items()) for _ in range(count)]
    return Figure(n, d, float(statistics.fmean(expanded)))


def _sums_by(totals: Cells) -> dict[tuple[str, str, str], _Sums]:
    """(kpi, period, team) -> its summed figure and values."""
    found: dict[tuple[str, str, str], _Sums] = defaultdict(_Sums)
    for key, (n, d) in totals.items():
        if key[0] == "f":
            sums = found[(key[1], key[2], key[3])]
            sums.numerator += n
            sums.denominator += d
        elif key[0] == "v" and n:
            found[(key[1], key[2], key[3])].values[float(key[4])] += n
    return found


def _labels(kpi: Kpi, as_at: date) -> list[str]:
    return [AS_AT] if kpi.point_in_time else [p.kind.value for p in periods_ending(as_at)]


def figures_from_totals(
    totals: Cells, as_at: date, config: CouncilConfig, population: int | None
) -> tuple[list[KpiFigure], list[ServiceFigure]]:
    """Every figure ``evaluate`` gives, from the summed facts of every unit."""
    sums = _sums_by(totals)
    shown: dict[str, set[str]] = defaultdict(set)
    for key, (n, _) in totals.items():
        if key[0] == "t" and n > 0:
            shown[key[1]].add(key[2])
    figures: list[KpiFigure] = []
    service_figures: list[ServiceFigure] = []
    for kpi in CATALOGUE:
        council_only = kpi.measure is Measure.RATE_PER_10000
        teams = {COUNCIL} if council_only else shown[kpi.id] | {COUNCIL}
        every_team = shown[kpi.id]
        for label in _labels(kpi, as_at):
            council = _Sums()
            by_service: dict[str, _Sums] = defaultdict(_Sums)
            for team in every_team:
                ours = sums.get((kpi.id, label, team))
                if ours is None:
                    continue
                council.add(ours)
                service = config.service_of(team)
                if service is not None:
                    by_service[service].add(ours)
            for team in sorted(teams):
                team_sums = council if team == COUNCIL else sums.get((kpi.id, label, team), _Sums())
                figures.append(
                    KpiFigure(kpi.id, label, team, _figure_of(kpi, team_sums, population))
                )
            if not council_only:
                service_figures.extend(
                    ServiceFigure(
                        kpi.id, label, s, _figure_of(kpi, by_service.get(s, _Sums()), population)
                    )
                    for s in config.services
                )
    return figures, service_figures


def evaluation_from_totals(
    totals: Cells,
    as_at: date,
    config: CouncilConfig,
    population: int | None,
    lists: tuple[Iterable[Breach], Iterable[OpenClockStatus], Iterable[Issue]] = ((), (), ()),
) -> Evaluation:
    """The evaluation as at ``as_at`` from the summed facts: figures and counts; the child-level
    lists only when given (the list endpoints read them from the facts' rows)."""
    figures, service_figures = figures_from_totals(totals, as_at, config, population)
    named = {key[1]: n for key, (n, _) in totals.items() if key[0] == "n"}
    unlisted = list(unlisted_teams(named, config.teams))
    breaches, clocks, issues = lists
    return Evaluation(
        as_at,
        tuple(figures),
        tuple(service_figures),
        tuple(breaches),
        tuple(clocks),
        (*issues, *unlisted),
        counted=_counts(totals, len(unlisted)),
    )


def _counts(
    totals: Cells, unlisted: int
) -> tuple[
    dict[tuple[str, str, ClockState], int], dict[tuple[str, str, str, str], int], dict[str, int]
]:
    """The open clock, breach and issue counts ``Evaluation`` keeps, from the summed facts."""
    clocks: dict[tuple[str, str, ClockState], int] = {}
    breaches: dict[tuple[str, str, str, str], int] = {}
    issues: dict[str, int] = {Check.UNLISTED_TEAM.value: unlisted}
    for key, (n, _) in totals.items():
        if key[0] == "c":
            clocks[(key[1], key[2], ClockState(key[3]))] = n
        elif key[0] == "b":
            breaches[(key[1], key[2], key[3], key[4])] = n
        elif key[0] == "i":
            issues[key[1]] = n
    return _counted(clocks), _counted(breaches), _counted(issues)


K = TypeVar("K", bound=str | tuple[str, ...])


def _counted(counts: dict[K, int]) -> dict[K, int]:
    return dict(sorted((key, n) for key, n in counts.items() if n > 0))


def facts_of_book(book: CaseBook, ctx: RuleContext) -> Iterator[tuple[str, UnitFacts]]:
    """Every unit's facts from a whole case book (for rebuilds and the tests)."""
    for child_id in sorted(book.children()):
        yield unit_of_child(child_id), unit_facts(CHILD, book.for_child(child_id), ctx)
    for application_id, application_book in sorted(book.applications().items()):
        yield (
            unit_of_application(application_id),
            unit_facts(APPLICATION, application_book, ctx),
        )
