"""Every KPI, open clock, breach and data-quality issue as at one date: pure."""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import StrEnum
from functools import partial
from typing import TypeVar

from casetime.events import as_end_instant
from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.council import CouncilConfig
from kpi.domain.data_quality import (
    Check,
    Issue,
    data_quality_issues,
    teams_named,
    unlisted_teams,
)
from kpi.domain.episodes import Exceptions
from kpi.domain.kpis import CATALOGUE, open_clocks
from kpi.domain.kpis.base import COUNCIL, Figure, Kpi, Measure, OpenClock, Outcome, by_team, figure
from kpi.domain.periods import periods_ending

log = logging.getLogger(__name__)

AS_AT = "as_at"  # the period label of KPIs counted on the as-at date itself
# "this month" to a team manager or the board: the month's figure, or today's for a KPI
# counted on a day
MONTH_OR_AS_AT = ("month", AS_AT)
REASON_NOT_RECORDED = "reason_not_recorded"


@dataclass(frozen=True, slots=True)
class KpiFigure:
    kpi: str
    period: str
    team: str  # a team, or "all" for the council
    figure: Figure


@dataclass(frozen=True, slots=True)
class ServiceFigure:
    kpi: str
    period: str
    service: str
    figure: Figure


@dataclass(frozen=True, slots=True)
class Breach:
    kpi: str
    period: str
    team: str
    child_id: str
    episode_id: str
    counted_on: date
    due: date | None
    reason: str


class ClockState(StrEnum):
    ON_TRACK = "on_track"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


@dataclass(frozen=True, slots=True)
class OpenClockStatus:
    clock: OpenClock
    state: ClockState
    days_left: int
    working_days_left: int


@dataclass(frozen=True)
class Evaluation:
    as_at: date
    figures: tuple[KpiFigure, ...]
    service_figures: tuple[ServiceFigure, ...]
    breaches: tuple[Breach, ...]
    open_clocks: tuple[OpenClockStatus, ...]
    issues: tuple[Issue, ...]
    # (clocks, breaches, issues) already counted, when built from stored totals
    counted: (
        tuple[
            dict[tuple[str, str, ClockState], int],
            dict[tuple[str, str, str, str], int],
            dict[str, int],
        ]
        | None
    ) = field(default=None, repr=False)
    # Counted once here, so that a scrape costs the same however many cases lie behind them.
    clock_counts: dict[tuple[str, str, ClockState], int] = field(init=False)
    breach_counts: dict[tuple[str, str, str, str], int] = field(init=False)
    issue_counts: dict[str, int] = field(init=False)
    # (kpi, period, team or service) -> figure, for look-ups by the report
    _by_team: dict[tuple[str, str, str], Figure] = field(init=False, repr=False)
    _by_service: dict[tuple[str, str, str], Figure] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.counted is not None:
            clock_counts, breach_counts, issue_counts = self.counted
        else:
            clocks = Counter((c.clock.kpi, c.clock.team, c.state) for c in self.open_clocks)
            breaches = Counter((b.kpi, b.period, b.team, b.reason) for b in self.breaches)
            issues = Counter(i.check.value for i in self.issues)
            clock_counts = dict(sorted(clocks.items()))
            breach_counts = dict(sorted(breaches.items()))
            issue_counts = dict(sorted(issues.items()))
        object.__setattr__(self, "clock_counts", clock_counts)
        object.__setattr__(self, "breach_counts", breach_counts)
        object.__setattr__(self, "issue_counts", issue_counts)
        by_team = {(f.kpi, f.period, f.team): f.figure for f in self.figures}
        by_service = {(s.kpi, s.period, s.service): s.figure for s in self.service_figures}
        object.__setattr__(self, "_by_team", by_team)
        object.__setattr__(self, "_by_service", by_service)

    def figure(self, kpi: str, period: str, team: str = COUNCIL) -> Figure:
        return self._by_team.get((kpi, period, team), Figure())

    def service_figure(self, kpi: str, period: str, service: str) -> Figure:
        return self._by_service.get((kpi, period, service), Figure())


def clock_status(clock: OpenClock, ctx: RuleContext) -> OpenClockStatus:
    """On track, due soon or overdue at the as-at date. Hour clocks are judged at the end of
    the as-at day: due soon within a share of their limit (section 10.8)."""
    working_days_left = ctx.calendar.working_days_between(ctx.as_at, clock.due)
    if clock.due_at is not None and clock.limit is not None:
        left = clock.due_at - as_end_instant(ctx.as_at)
        if left < timedelta(0):
            state = ClockState.OVERDUE
        elif left <= clock.limit * ctx.settings.hour_clock_due_soon_share:
            state = ClockState.DUE_SOON
        else:
            state = ClockState.ON_TRACK
    elif clock.due < ctx.as_at:
        state = ClockState.OVERDUE
    elif working_days_left <= ctx.settings.due_soon_working_days:
        state = ClockState.DUE_SOON
    else:
        state = ClockState.ON_TRACK
    return OpenClockStatus(clock, state, (clock.due - ctx.as_at).days, working_days_left)


class EvaluationStoppedError(Exception):
    """The caller asked the evaluation to stop (its client left, or its time ran out)."""


T = TypeVar("T")


def guarded(
    what: str,
    rule: Callable[[CaseBook, RuleContext], Iterable[T]],
    book: CaseBook,
    ctx: RuleContext,
    failures: list[Issue],
) -> list[T]:
    """The rule over the whole book; should it fail, child by child, so that one child's
    episodes that cannot be evaluated are left out (and listed) and every other child counts."""
    try:
        return list(rule(book, ctx))
    except Exception:
        log.exception("%s failed over the whole case book; evaluating child by child", what)
    found: list[T] = []
    for child_id in sorted(book.children()):
        child_book = book.for_child(child_id)
        try:
            found.extend(rule(child_book, ctx))
        except Exception as exc:
            failures.append(
                Issue(
                    Check.NOT_EVALUATED,
                    child_book.team_at(ctx.as_at),
                    child_id,
                    "",
                    f"{what} could not be evaluated for this child: {exc!r}"[:300],
                )
            )
    return found


@dataclass
class _Tally:
    """What an evaluation gathers, KPI by KPI."""

    figures: list[KpiFigure] = field(default_factory=list)
    service_figures: list[ServiceFigure] = field(default_factory=list)
    breaches: list[Breach] = field(default_factory=list)
    failures: list[Issue] = field(default_factory=list)


def windows(kpi: Kpi, outcomes: list[Outcome], as_at: date) -> list[tuple[str, list[Outcome]]]:
    """Each period's members: the as-at date itself for point-in-time KPIs."""
    if kpi.point_in_time:
        return [(AS_AT, [o for o in outcomes if o.counted_on == as_at])]
    return [(p.kind.value, kpi.in_period(outcomes, p)) for p in periods_ending(as_at)]


def _count_kpi(
    kpi: Kpi, book: CaseBook, ctx: RuleContext, config: CouncilConfig, tally: _Tally
) -> None:
    """One KPI's figures per period, team and service, and its breaches."""
    population = ctx.settings.population_0_to_17
    ruled = guarded(kpi.id, kpi.outcomes, book, ctx, tally.failures)
    outcomes = [o for o in ruled if o.counted_on <= ctx.as_at]
    council_only = kpi.measure is Measure.RATE_PER_10000
    teams = {COUNCIL} if council_only else {o.team for o in outcomes} | {COUNCIL}
    for label, members in windows(kpi, outcomes, ctx.as_at):
        grouped = by_team(members)
        tally.figures.extend(
            KpiFigure(kpi.id, label, team, figure(kpi, grouped.get(team, []), population))
            for team in sorted(teams)
        )
        if not council_only:
            by_service: dict[str, list[Outcome]] = defaultdict(list)
            for o in members:
                service = config.service_of(o.team)
                if service is not None:
                    by_service[service].append(o)
            tally.service_figures.extend(
                ServiceFigure(kpi.id, label, service, figure(kpi, by_service[service], population))
                for service in config.services
            )
        if kpi.timeliness:
            tally.breaches.extend(breaches_of(kpi, label, members, book, ctx.as_at))


def evaluate(
    book: CaseBook,
    ctx: RuleContext,
    config: CouncilConfig,
    should_stop: Callable[[], bool] = lambda: False,
) -> Evaluation:
    """Every figure as at ``ctx.as_at``. ``should_stop`` is asked between KPIs; when it says
    so, the evaluation ends with EvaluationStoppedError."""
    tally = _Tally()
    for kpi in CATALOGUE:
        if should_stop():
            raise EvaluationStoppedError(kpi.id)
        _count_kpi(kpi, book, ctx, config, tally)
    clocks = [
        clock_status(clock, ctx)
        for kpi in CATALOGUE
        if kpi.open_clocks is not None
        for clock in guarded(
            f"{kpi.id} open clocks", partial(open_clocks, kpi), book, ctx, tally.failures
        )
    ]
    if should_stop():
        raise EvaluationStoppedError("data quality")
    issues = guarded("data quality", data_quality_issues, book, ctx, tally.failures)
    issues.extend(unlisted_teams(teams_named(book.episodes(), ctx.as_at), config.teams))
    return Evaluation(
        ctx.as_at,
        tuple(tally.figures),
        tuple(tally.service_figures),
        tuple(tally.breaches),
        tuple(clocks),
        tuple(issues + tally.failures),
    )


def breaches_of(
    kpi: Kpi, period: str, members: list[Outcome], book: CaseBook, as_at: date
) -> list[Breach]:
    """Each member that missed its clock, with the reason recorded for the same episode by the
    as-at date, for this KPI or the KPI it is a variant of (section 10.7)."""
    kpis = (kpi.id,) if kpi.reasons_of is None else (kpi.id, kpi.reasons_of)
    found = []
    for o in members:
        if o.met:
            continue
        exceptions = book.get("exception", o.child_id, o.episode_id, Exceptions)
        reason = exceptions.reason_for(kpis, as_at) if exceptions is not None else None
        found.append(
            Breach(
                kpi.id,
                period,
                o.team,
                o.child_id,
                o.episode_id,
                o.counted_on,
                o.due,
                reason.value if reason is not None else REASON_NOT_RECORDED,
            )
        )
    return found
