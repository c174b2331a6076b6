"""Prometheus exposition: a collector that reads the last evaluation, never the database.

A scrape costs the same however many cases are open; the evaluation is refreshed in the
background. Labels come from small closed sets (KPI ids, periods, teams, services, clock states,
reasons, checks): never a child, case or worker id.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kpi.adapters.consumer import ConsumerStats
from kpi.domain.evaluation import ClockState, Evaluation
from kpi.domain.kpis import KPIS
from kpi.domain.kpis.base import Figure, Measure

LABELS = ["kpi", "period", "team"]
SERVICE_LABELS = ["kpi", "period", "service"]


def _figure_families(prefix: str, labels: list[str]) -> dict[str, GaugeMetricFamily]:
    return {
        "numerator": GaugeMetricFamily(
            f"{prefix}_numerator", "Cohort members that met the KPI's rule.", labels=labels
        ),
        "denominator": GaugeMetricFamily(
            f"{prefix}_denominator",
            "Cohort members counted by the KPI (rates: the population aged 0 to 17).",
            labels=labels,
        ),
        "ratio": GaugeMetricFamily(
            f"{prefix}_ratio",
            "Numerator over denominator, 0 to 1; absent when the denominator is 0.",
            labels=labels,
        ),
        "value": GaugeMetricFamily(
            f"{prefix}_value",
            "Medians and means (in the KPI's unit) and rates per 10,000 children.",
            labels=labels,
        ),
    }


class KpiCollector(Collector):
    def __init__(
        self,
        snapshot: Callable[[], Evaluation | None],
        refreshed_at: Callable[[], float | None],
        stats: ConsumerStats,
    ) -> None:
        self._snapshot = snapshot
        self._refreshed_at = refreshed_at
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        yield from self._consumer_metrics()
        evaluation = self._snapshot()
        if evaluation is None:
            return
        refreshed = self._refreshed_at()
        if refreshed is not None:
            yield GaugeMetricFamily(
                "casetime_kpi_snapshot_timestamp_seconds",
                "When the KPI snapshot was last computed (Unix time).",
                value=refreshed,
            )
        teams = _figure_families("casetime_kpi", LABELS)
        for f in evaluation.figures:
            self._add(teams, KPIS[f.kpi].measure, [f.kpi, f.period, f.team], f.figure)
        yield from teams.values()
        services = _figure_families("casetime_service_kpi", SERVICE_LABELS)
        for s in evaluation.service_figures:
            self._add(services, KPIS[s.kpi].measure, [s.kpi, s.period, s.service], s.figure)
        yield from services.values()
        yield from self._open_clocks(evaluation)
        breaches = GaugeMetricFamily(
            "casetime_kpi_breaches",
            "Breached clocks by exception reason ('reason_not_recorded' when none).",
            labels=["kpi", "period", "team", "reason"],
        )
        for (kpi, period, team, reason), count in evaluation.breach_counts.items():
            breaches.add_metric([kpi, period, team, reason], count)
        yield breaches
        issues = GaugeMetricFamily(
            "casetime_data_quality_issues",
            "Data-quality issues found, per check (catalogue section 9).",
            labels=["check"],
        )
        for check, count in evaluation.issue_counts.items():
            issues.add_metric([check], count)
        yield issues

    @staticmethod
    def _add(
        families: dict[str, GaugeMetricFamily], measure: Measure, labels: list[str], figure: Figure
    ) -> None:
        families["numerator"].add_metric(labels, figure.numerator)
        families["denominator"].add_metric(labels, figure.denominator)
        if figure.value is not None:
            name = "ratio" if measure is Measure.RATIO else "value"
            families[name].add_metric(labels, figure.value)

    @staticmethod
    def _open_clocks(evaluation: Evaluation) -> Iterator[Metric]:
        clocks = GaugeMetricFamily(
            "casetime_open_clocks",
            "Clocks still running at the as-at date, by state (catalogue section 4).",
            labels=["kpi", "team", "state"],
        )
        counts = evaluation.clock_counts
        pairs = sorted({(kpi, team) for kpi, team, _ in counts})
        for kpi, team in pairs:
            for state in ClockState:
                clocks.add_metric([kpi, team, state.value], counts.get((kpi, team, state), 0))
        yield clocks

    def _consumer_metrics(self) -> Iterator[Metric]:
        applied = CounterMetricFamily(
            "casetime_kpi_events",
            "Events taken from Kafka, by what applying them did (new, replaced, duplicate, stale).",
            labels=["outcome"],
        )
        for outcome, count in self._stats.applied.items():
            applied.add_metric([outcome], count)
        yield applied
        yield CounterMetricFamily(
            "casetime_kpi_dead_letters",
            "Messages that could not be applied.",
            value=self._stats.dead_letters,
        )
        stats = self._stats
        yield GaugeMetricFamily(
            "casetime_kpi_consumer_up",
            "1 while the event consumer is running.",
            value=1 if stats.running else 0,
        )
        yield GaugeMetricFamily(
            "casetime_kpi_consumer_stalled",
            "1 when events wait and the consumer has made no progress (it is being restarted).",
            value=1 if stats.stalled else 0,
        )
        yield CounterMetricFamily(
            "casetime_kpi_consumer_restarts_after_stall",
            "Times the consumer was rebuilt because it stopped making progress.",
            value=stats.restarts_after_stall,
        )
        lag = GaugeMetricFamily(
            "casetime_kpi_consumer_lag_events",
            "Events published but not yet applied, per topic and partition.",
            labels=["topic", "partition"],
        )
        for (topic, partition), waiting in sorted(stats.lag.items()):
            lag.add_metric([topic, str(partition)], waiting)
        yield lag
        if stats.last_applied_at is not None:
            yield GaugeMetricFamily(
                "casetime_kpi_last_applied_timestamp_seconds",
                "When the consumer last applied a batch (Unix time).",
                value=stats.last_applied_at,
            )
        if stats.last_event_recorded_at is not None:
            yield GaugeMetricFamily(
                "casetime_kpi_last_event_recorded_timestamp_seconds",
                "recorded_at of the last event applied (Unix time).",
                value=stats.last_event_recorded_at,
            )
