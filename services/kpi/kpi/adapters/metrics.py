"""Prometheus exposition: a collector that reads the last evaluation, never the database.

A scrape costs the same however many cases are open; the evaluation is refreshed in the
background. Labels come from small closed sets (KPI ids, periods, teams, services, clock states,
reasons, checks): never a child, case or worker id.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kpi.adapters.consumer import ConsumerStats
from kpi.adapters.snapshots import RefreshHealth
from kpi.domain.council import CouncilConfig, Rag
from kpi.domain.evaluation import ClockState, Evaluation
from kpi.domain.kpis import KPIS
from kpi.domain.kpis.base import Figure, Measure
from kpi.domain.report import rated

LABELS = ["kpi", "period", "team"]
# counters others read (the CLI waits on them); exposed with the _total suffix
EVENTS_APPLIED = "casetime_kpi_events"
DEAD_LETTERS = "casetime_kpi_dead_letters"
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


def rag_label(rating: Rag) -> str:
    """green, amber, red, grey, not_rated, no_data."""
    return rating.name.lower()


class KpiCollector(Collector):
    def __init__(
        self,
        snapshot: Callable[[], Evaluation | None],
        refreshed_at: Callable[[], float | None],
        stats: ConsumerStats,
        config: CouncilConfig | None = None,
        refresh_health: Callable[[], RefreshHealth] | None = None,
        pending_units: Callable[[], int] | None = None,
    ) -> None:
        self._pending_units = pending_units
        self._snapshot = snapshot
        self._refreshed_at = refreshed_at
        self._stats = stats
        # targets and RAG rules; without it, figures only
        self._config = config
        self._refresh_health = refresh_health

    def _team_label(self, team: str) -> str:
        """A closed set: the council file's teams, and "unlisted" for every other."""
        return team if self._config is None else self._config.label_for(team)

    def collect(self) -> Iterator[Metric]:
        yield from self._consumer_metrics()
        yield from self._keeper_metrics()
        yield from self._figure_metrics()

    def _keeper_metrics(self) -> Iterator[Metric]:
        if self._refresh_health is not None:
            health = self._refresh_health()
            yield CounterMetricFamily(
                "casetime_kpi_snapshot_refresh_failures",
                "Snapshot refreshes that failed (the previous snapshot is kept).",
                value=health.failures,
            )
            yield GaugeMetricFamily(
                "casetime_kpi_snapshot_refresh_failures_in_a_row",
                "Refreshes failed since the last one that succeeded.",
                value=health.failures_in_a_row,
            )
        if self._pending_units is not None:
            yield GaugeMetricFamily(
                "casetime_kpi_facts_pending_units",
                "Children and applications whose facts wait to be derived again.",
                value=self._pending_units(),
            )

    def _figure_metrics(self) -> Iterator[Metric]:
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
            yield GaugeMetricFamily(
                "casetime_kpi_snapshot_age_seconds",
                "How old the figures on this page are: seconds since the snapshot was computed.",
                value=max(time.time() - refreshed, 0.0),
            )
        teams = _figure_families("casetime_kpi", LABELS)
        by_label = self._by_label(evaluation)
        for (kpi, period, team), figure in by_label.items():
            self._add(teams, KPIS[kpi].measure, [kpi, period, team], figure)
        yield from teams.values()
        yield from self._ratings(by_label)
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
        merged: Counter[tuple[str, str, str, str]] = Counter()
        for (kpi, period, team, reason), count in evaluation.breach_counts.items():
            merged[(kpi, period, self._team_label(team), reason)] += count
        for labels, count in sorted(merged.items()):
            breaches.add_metric(list(labels), count)
        yield breaches
        issues = GaugeMetricFamily(
            "casetime_data_quality_issues",
            "Data-quality issues found, per check (catalogue section 9).",
            labels=["check"],
        )
        for check, count in evaluation.issue_counts.items():
            issues.add_metric([check], count)
        yield issues

    def _ratings(self, by_label: dict[tuple[str, str, str], Figure]) -> Iterator[Metric]:
        config = self._config
        if config is None:
            return
        targets = GaugeMetricFamily(
            "casetime_kpi_target",
            "The council's target for the KPI, in the unit of its ratio or value.",
            labels=["kpi"],
        )
        for kpi in sorted(KPIS):
            goal = config.target_for(kpi).target
            if goal is not None:
                targets.add_metric([kpi], goal)
        yield targets
        comparators = GaugeMetricFamily(
            "casetime_kpi_comparator",
            "The council file's comparators for the KPI (england, region, statistical_neighbours,"
            " baseline, projection), in the unit of its ratio or value.",
            labels=["kpi", "comparator"],
        )
        for kpi in sorted(KPIS):
            for name, comparator in config.target_for(kpi).comparators:
                if comparator is not None:
                    comparators.add_metric([kpi, name], comparator.value)
        yield comparators
        ratings = GaugeMetricFamily(
            "casetime_kpi_rag",
            "The figure's RAG rating (catalogue section 6) as a state set: 1 for the rating it"
            " has, 0 for the others.",
            labels=[*LABELS, "rag"],
        )
        for (kpi, period, team), figure in by_label.items():
            held = rated(kpi, figure, config)
            for rating in Rag:
                ratings.add_metric([kpi, period, team, rag_label(rating)], rating is held)
        yield ratings

    @staticmethod
    def _add(
        families: dict[str, GaugeMetricFamily], measure: Measure, labels: list[str], figure: Figure
    ) -> None:
        families["numerator"].add_metric(labels, figure.numerator)
        families["denominator"].add_metric(labels, figure.denominator)
        if figure.value is not None:
            name = "ratio" if measure is Measure.RATIO else "value"
            families[name].add_metric(labels, figure.value)

    def _by_label(self, evaluation: Evaluation) -> dict[tuple[str, str, str], Figure]:
        """Figures by (kpi, period, team label): the unlisted teams' counts added up under one
        label, their ratio recomputed from those sums; a median or mean cannot be added up, so
        the unlisted label carries counts only."""
        found: dict[tuple[str, str, str], Figure] = {}
        for f in evaluation.figures:
            key = (f.kpi, f.period, self._team_label(f.team))
            held = found.get(key)
            if held is None:
                found[key] = f.figure
                continue
            numerator = held.numerator + f.figure.numerator
            denominator = held.denominator + f.figure.denominator
            ratio = numerator / denominator if denominator else None
            value = ratio if KPIS[f.kpi].measure is Measure.RATIO else None
            found[key] = Figure(numerator, denominator, value)
        return found

    def _open_clocks(self, evaluation: Evaluation) -> Iterator[Metric]:
        clocks = GaugeMetricFamily(
            "casetime_open_clocks",
            "Clocks still running at the as-at date, by state (catalogue section 4).",
            labels=["kpi", "team", "state"],
        )
        counts: Counter[tuple[str, str, ClockState]] = Counter()
        for (kpi, team, state), count in evaluation.clock_counts.items():
            counts[(kpi, self._team_label(team), state)] += count
        pairs = sorted({(kpi, team) for kpi, team, _ in counts})
        for kpi, team in pairs:
            for state in ClockState:
                clocks.add_metric([kpi, team, state.value], counts.get((kpi, team, state), 0))
        yield clocks

    def _consumer_metrics(self) -> Iterator[Metric]:
        applied = CounterMetricFamily(
            EVENTS_APPLIED,
            "Events taken from Kafka, by what applying them did (new, replaced, duplicate, stale).",
            labels=["outcome"],
        )
        for outcome, count in self._stats.applied.items():
            applied.add_metric([outcome], count)
        yield applied
        yield CounterMetricFamily(
            DEAD_LETTERS,
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
        yield CounterMetricFamily(
            "casetime_kpi_consumer_unexpected_failures",
            "Times the consumer failed for an unexpected reason and was started again.",
            value=stats.unexpected_failures,
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
