"""What a team manager sees (catalogue section 4): the team's open clocks by urgency, each as
"day N of M", and for each KPI what the month will end on if the clocks due before it ends are
all met, or all missed. Pure: the team page (kpi.api.team_page) renders it."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, timedelta

from kpi.domain.council import CouncilConfig, Rag
from kpi.domain.evaluation import MONTH_OR_AS_AT, ClockState, Evaluation, OpenClockStatus
from kpi.domain.kpis import KPIS
from kpi.domain.kpis.base import Figure, Measure
from kpi.domain.periods import PeriodKind, add_months
from kpi.domain.report import rated, small_numbers

URGENCY = {ClockState.OVERDUE: 0, ClockState.DUE_SOON: 1, ClockState.ON_TRACK: 2}


@dataclass(frozen=True)
class ClockLine:
    status: OpenClockStatus
    title: str
    # "day N of M"; day is None where the clock is counted in hours, both where it has no
    # fixed length (visits, reviews)
    day: int | None
    of: int | None
    unit: str


def clock_line(status: OpenClockStatus) -> ClockLine:
    kpi = KPIS[status.clock.kpi]
    standard = kpi.standard
    if standard is None:
        return ClockLine(status, kpi.title, None, None, "")
    if standard.unit == "hours":
        # an hour clock carries its own limit (a council may count referral decisions in days)
        limit = status.clock.limit
        hours = standard.length if limit is None else int(limit.total_seconds() // 3600)
        return ClockLine(status, kpi.title, None, hours, "hours")
    left = status.working_days_left if standard.unit == "working days" else status.days_left
    return ClockLine(status, kpi.title, standard.length - left, standard.length, standard.unit)


def team_clocks(evaluation: Evaluation, team: str) -> list[ClockLine]:
    """Overdue first, then due soon, then on track; within each, the soonest due first."""
    mine = [s for s in evaluation.open_clocks if s.clock.team == team]
    mine.sort(key=lambda s: (URGENCY[s.state], s.clock.due, s.clock.kpi, s.clock.child_id))
    return [clock_line(s) for s in mine]


@dataclass(frozen=True)
class AtRisk:
    """One KPI's month for a team: the figure now; ``due`` open clocks still in time and due by
    the month's last day; the figure if all of them are met, and if all are missed (done late,
    within the month). ``overdue`` clocks are already late and count against the figure whenever
    they close; they are in neither projection."""

    kpi: str
    title: str
    month_end: date
    now: Figure
    due: int
    overdue: int
    if_met: Figure
    if_missed: Figure
    rag_now: Rag
    rag_if_met: Rag
    rag_if_missed: Rag


def month_end(as_at: date) -> date:
    return add_months(as_at.replace(day=1), 1) - timedelta(days=1)


def _ratio(numerator: int, denominator: int) -> Figure:
    return Figure(numerator, denominator, numerator / denominator if denominator else None)


def at_risk(evaluation: Evaluation, team: str, config: CouncilConfig) -> list[AtRisk]:
    """For each ratio KPI whose open clocks close into the month's cohort and that has open
    clocks in the team, the month's figure if they are met and if they are missed."""
    last = month_end(evaluation.as_at)
    due: Counter[str] = Counter()
    overdue: Counter[str] = Counter()
    for s in evaluation.open_clocks:
        if s.clock.team != team:
            continue
        if s.state is ClockState.OVERDUE:
            overdue[s.clock.kpi] += 1
        elif s.clock.due <= last:
            due[s.clock.kpi] += 1
    risks = []
    for kpi_id in sorted(set(due) | set(overdue)):
        kpi = KPIS[kpi_id]
        if kpi.measure is not Measure.RATIO or not (
            kpi.standard and kpi.standard.closes_into_cohort
        ):
            continue
        now = evaluation.figure(kpi_id, PeriodKind.MONTH.value, team)
        k = due[kpi_id]
        if_met = _ratio(now.numerator + k, now.denominator + k)
        if_missed = _ratio(now.numerator, now.denominator + k)
        risks.append(
            AtRisk(
                kpi_id,
                kpi.title,
                last,
                now,
                k,
                overdue[kpi_id],
                if_met,
                if_missed,
                rated(kpi_id, now, config),
                rated(kpi_id, if_met, config),
                rated(kpi_id, if_missed, config),
            )
        )
    return risks


@dataclass(frozen=True)
class TeamFigure:
    """A KPI for the team this month (or today, for a KPI counted at the as-at date)."""

    kpi: str
    title: str
    measure: Measure
    unit: str
    period: str
    figure: Figure
    target: float | None
    rag: Rag
    small_numbers: bool


def team_figures(evaluation: Evaluation, team: str, config: CouncilConfig) -> list[TeamFigure]:
    rows = []
    for f in evaluation.figures:
        if f.team != team or f.period not in MONTH_OR_AS_AT:
            continue
        kpi = KPIS[f.kpi]
        rows.append(
            TeamFigure(
                f.kpi,
                kpi.title,
                kpi.measure,
                kpi.unit,
                f.period,
                f.figure,
                config.target_for(f.kpi).target,
                rated(f.kpi, f.figure, config),
                small_numbers(f.kpi, f.figure, config),
            )
        )
    return sorted(rows, key=lambda r: r.kpi)
