"""Prometheus exposition: a collector that reads the last snapshot, never the database.

A scrape costs the same however many cases are open; the snapshot is refreshed in the background.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kpi.adapters.consumer import ConsumerStats
from kpi.domain.snapshot import KpiSnapshot

LABELS = ["kpi", "period", "team"]


class KpiCollector(Collector):
    def __init__(
        self,
        snapshot: Callable[[], KpiSnapshot | None],
        refreshed_at: Callable[[], float | None],
        stats: ConsumerStats,
    ) -> None:
        self._snapshot = snapshot
        self._refreshed_at = refreshed_at
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
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
        yield GaugeMetricFamily(
            "casetime_kpi_consumer_up",
            "1 while the Kafka consumer is running.",
            value=1 if self._stats.running else 0,
        )
        snapshot = self._snapshot()
        if snapshot is None:
            return
        refreshed = self._refreshed_at()
        if refreshed is not None:
            yield GaugeMetricFamily(
                "casetime_kpi_snapshot_timestamp_seconds",
                "When the KPI snapshot was last computed (Unix time).",
                value=refreshed,
            )
        numerator = GaugeMetricFamily(
            "casetime_kpi_numerator", "Cohort members that met the KPI's rule.", labels=LABELS
        )
        denominator = GaugeMetricFamily(
            "casetime_kpi_denominator", "Cohort members counted by the KPI.", labels=LABELS
        )
        ratio = GaugeMetricFamily(
            "casetime_kpi_ratio",
            "Numerator over denominator, 0 to 1; absent when the denominator is 0.",
            labels=LABELS,
        )
        for value in snapshot.values:
            labels = [value.kpi, value.period.value, value.team]
            numerator.add_metric(labels, value.tally.numerator)
            denominator.add_metric(labels, value.tally.denominator)
            if value.tally.ratio is not None:
                ratio.add_metric(labels, value.tally.ratio)
        yield numerator
        yield denominator
        yield ratio
