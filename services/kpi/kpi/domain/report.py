"""KPI figures as people read them: value, numerator and denominator, target, RAG word,
comparators and direction of travel (catalogue sections 3, 6 and 7)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from kpi.domain.council import Comparators, CouncilConfig, Direction, Rag, direction, rag
from kpi.domain.evaluation import AS_AT, Evaluation
from kpi.domain.kpis import KPIS
from kpi.domain.kpis.base import Figure, Measure
from kpi.domain.periods import PeriodKind, period_ending


@dataclass(frozen=True)
class KpiRow:
    kpi: str
    title: str
    period: str
    level: str  # team, service or council
    unit_name: str  # the team or service; "all" for the council
    unit: str
    value: float | None
    numerator: int
    denominator: int
    small_numbers: bool
    target: float | None
    rag: Rag
    polarity: str
    comparators: Comparators
    previous_value: float | None
    direction: Direction


def previous_as_at(period: str, as_at: date) -> date:
    """The end of the previous period of the same kind: the period ending the day before this
    one starts (for point-in-time KPIs, the end of the previous month)."""
    if period == AS_AT:
        return as_at.replace(day=1) - timedelta(days=1)
    return period_ending(PeriodKind(period), as_at).start - timedelta(days=1)


def comparison_dates(as_at: date) -> set[date]:
    """Every date the figures as at ``as_at`` are compared with (their direction of travel)."""
    return {previous_as_at(label, as_at) for label in (AS_AT, *PeriodKind)}


def rated(kpi_id: str, figure: Figure, config: CouncilConfig) -> Rag:
    """A figure's RAG under the council's target for the KPI (a rate has no small numbers)."""
    rate = KPIS[kpi_id].measure is Measure.RATE_PER_10000
    return rag(
        figure.value,
        None if rate else figure.denominator,
        config.target_for(kpi_id),
        config.polarity_of(kpi_id),
        config.small_number_threshold,
    )


def small_numbers(kpi_id: str, figure: Figure, config: CouncilConfig) -> bool:
    """Shown but flagged, and not rated (a rate's denominator is the population)."""
    rate = KPIS[kpi_id].measure is Measure.RATE_PER_10000
    return not rate and figure.denominator < config.small_number_threshold


def kpi_rows(
    evaluation: Evaluation,
    config: CouncilConfig,
    previous: Callable[[date], Evaluation],
) -> list[KpiRow]:
    """Every figure of the evaluation, rated; ``previous`` evaluates an earlier as-at date."""
    rows: list[KpiRow] = []
    entries: list[tuple[str, str, str, str, Figure]] = [
        (f.kpi, f.period, "council" if f.team == "all" else "team", f.team, f.figure)
        for f in evaluation.figures
    ]
    entries += [
        (f.kpi, f.period, "service", f.service, f.figure) for f in evaluation.service_figures
    ]
    for kpi_id, period, level, name, fig in entries:
        kpi = KPIS[kpi_id]
        target = config.target_for(kpi_id)
        polarity = config.polarity_of(kpi_id)
        earlier = previous(previous_as_at(period, evaluation.as_at))
        lookup = earlier.service_figure if level == "service" else earlier.figure
        before = lookup(kpi_id, period, name).value
        rows.append(
            KpiRow(
                kpi=kpi_id,
                title=kpi.title,
                period=period,
                level=level,
                unit_name=name,
                unit=kpi.unit,
                value=fig.value,
                numerator=fig.numerator,
                denominator=fig.denominator,
                small_numbers=small_numbers(kpi_id, fig, config),
                target=target.target,
                rag=rated(kpi_id, fig, config),
                polarity=polarity.value,
                comparators=target.comparators,
                previous_value=before,
                direction=direction(fig.value, before, polarity),
            )
        )
    return rows
