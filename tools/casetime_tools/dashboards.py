"""The Grafana dashboards, as code (grafana-foundation-sdk): team timeliness, the service and
council overview, and pipeline health. `casetime dashboards` writes them to
deploy/grafana/dashboards/; a test checks the committed JSON equals a fresh generation and
evaluates every panel's query against a real Prometheus.

Every query reads the series of deploy/METRICS.md; the stat colours come from the council file's
targets and RAG rules (catalogue section 6). The service's own rating (`casetime_kpi_rag`, the
one /kpis and the team page give) is the "Ratings" table: where a colour threshold and the
rating differ at an edge or for small numbers, the rating is the one that counts.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from grafana_foundation_sdk.builders import dashboard as gd
from grafana_foundation_sdk.builders import prometheus, stat, table, text, timeseries
from grafana_foundation_sdk.builders.common import ReduceDataOptions
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models.common import BigValueColorMode, BigValueGraphMode
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from kpi.domain.council import CouncilConfig, KpiTarget, Rag, rag_bands
from kpi.domain.evaluation import AS_AT
from kpi.domain.kpis import KPIS
from kpi.domain.kpis.base import Kpi, Measure, Polarity
from kpi.domain.periods import PeriodKind

DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="casetime-prometheus")
GREEN, AMBER, RED, GREY = "#00703c", "#f47738", "#d4351c", "#6f777b"
RATING_COLOURS = {"green": GREEN, "amber": AMBER, "red": RED}
LAST = ReduceDataOptions().calcs(["lastNotNull"])
PERIODS = [kind.value for kind in PeriodKind]
TEAMS = 'label_values(casetime_kpi_denominator{team!~"all|unlisted"}, team)'


@dataclass(frozen=True)
class Query:
    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False

    def build(self, ref: str) -> prometheus.Dataquery:
        query = prometheus.Dataquery().expr(self.expr).ref_id(ref).datasource(DATASOURCE)
        if self.legend:
            query = query.legend_format(self.legend)
        if self.instant:
            query = query.instant()
        if self.table:
            query = query.format(PromQueryFormat.TABLE)
        return query


Panel = TypeVar("Panel", stat.Panel, table.Panel, timeseries.Panel)


def _targets(panel: Panel, queries: list[Query]) -> Panel:
    for n, query in enumerate(queries):
        panel = panel.with_target(query.build(chr(ord("A") + n)))
    return panel


def figure_series(kpi: Kpi) -> str:
    return "casetime_kpi_ratio" if kpi.measure is Measure.RATIO else "casetime_kpi_value"


def kpi_unit(kpi: Kpi) -> str:
    if kpi.measure is Measure.RATIO:
        return "percentunit"
    return {"working_days": "d", "weeks": "w"}.get(kpi.unit, "short")


def thresholds(target: KpiTarget, polarity: Polarity) -> list[dm.Threshold]:
    """Stat colours from the council's RAG rule (catalogue section 6)."""
    colours = {Rag.RED: RED, Rag.AMBER: AMBER, Rag.GREEN: GREEN}
    return [dm.Threshold(edge, colours.get(r, GREY)) for edge, r in rag_bands(target, polarity)]


def _described_target(kpi: Kpi, target: KpiTarget, polarity: Polarity) -> str:
    if target.target is None:
        return "No target: monitoring only (Grey)."
    value = f"{target.target:.0%}" if kpi.measure is Measure.RATIO else f"{target.target:g}"
    better = "higher" if polarity is Polarity.HIGHER_IS_BETTER else "lower"
    return f"Target {value} ({better} is better), rule '{target.rag_rule.value}'."


def kpi_stat(kpi: Kpi, config: CouncilConfig, team: str = "$team") -> stat.Panel:
    target = config.target_for(kpi.id)
    polarity = config.polarity_of(kpi.id)
    # a KPI counted on a day has only its as-at figure; the others, the period chosen above
    period = AS_AT if kpi.point_in_time else "$period"
    when = "today" if kpi.point_in_time else "in the period chosen above"
    expr = f'{figure_series(kpi)}{{kpi="{kpi.id}", period="{period}", team="{team}"}}'
    panel = (
        stat.Panel()
        .title(kpi.id)
        .description(
            f"{kpi.title}, {when}, for the team chosen above. "
            f"{_described_target(kpi, target, polarity)} The colour follows the council file's"
            " RAG rule; the Ratings table gives the rating itself (small numbers are not rated)."
        )
        .unit(kpi_unit(kpi))
        .decimals(1)
        .thresholds(
            gd.ThresholdsConfig()
            .mode(dm.ThresholdsMode.ABSOLUTE)
            .steps(thresholds(target, polarity))
        )
        .color_mode(BigValueColorMode.BACKGROUND)
        .graph_mode(BigValueGraphMode.NONE)
        .reduce_options(LAST)
        .no_value("no data")
        .height(4)
        .span(4)
    )
    return _targets(panel, [Query(expr, kpi.id, instant=True)])


RATING_MAPPINGS: list[dm.ValueMap | dm.RangeMap | dm.RegexMap | dm.SpecialValueMap] = [
    dm.ValueMap(
        {
            word: dm.ValueMappingResult(text=word.replace("_", " ").capitalize(), color=colour)
            for word, colour in {
                **RATING_COLOURS,
                "grey": GREY,
                "not_rated": GREY,
                "no_data": GREY,
            }.items()
        }
    )
]
# one row per KPI: its rating (A, the label), figure (B) and target (C), joined on kpi
RATING_COLUMNS = dm.DataTransformerConfig(
    id_val="organize",
    options={
        "excludeByName": {
            name: True
            for name in ("Time", "__name__", "job", "instance", "period", "team", "Value #A")
        },
        "renameByName": {"kpi": "KPI", "rag": "Rating", "Value #B": "Figure", "Value #C": "Target"},
    },
)
IN_PERIOD = 'team="$team", period=~"$period|as_at"'


def _rating_table() -> table.Panel:
    panel = (
        table.Panel()
        .title("Ratings")
        .description(
            "Each KPI's RAG rating for the team in the period chosen above (KPIs counted on a day:"
            " today), as the KPI service rates it (the same word /kpis"
            " and the team page give), with the figure and the council's target."
        )
        .unit("short")
        .mappings(RATING_MAPPINGS)
        .height(12)
        .span(12)
        .with_transformation(dm.DataTransformerConfig(id_val="merge", options={}))
        .with_transformation(RATING_COLUMNS)
    )
    figure = f"casetime_kpi_ratio{{{IN_PERIOD}}} or casetime_kpi_value{{{IN_PERIOD}}}"
    return _targets(
        panel,
        [
            Query(f"casetime_kpi_rag{{{IN_PERIOD}}} == 1", instant=True, table=True),
            Query(figure, instant=True, table=True),
            Query("casetime_kpi_target", instant=True, table=True),
        ],
    )


def team_dashboard(config: CouncilConfig) -> gd.Dashboard:
    team_variable = (
        gd.QueryVariable("team")
        .label("Team")
        .query(TEAMS)
        .datasource(DATASOURCE)
        .refresh(dm.VariableRefresh.ON_DASHBOARD_LOAD)
        .sort(dm.VariableSort.ALPHABETICAL_ASC)
    )
    page_base = gd.ConstantVariable("team_page").value("http://127.0.0.1:8004")
    period = _custom("period", "Period", PERIODS, "month")
    board = (
        gd.Dashboard("casetime · Team timeliness")
        .uid("casetime-team")
        .tags(["casetime", "generated"])
        .description("A team manager's KPIs, rated, their trend and the team's open work.")
        .refresh("30s")
        .time("now-13M", "now")
        .timezone("Europe/London")
        .editable()
        .with_variable(team_variable)
        .with_variable(period)
        .with_variable(page_base)
        .with_row(gd.Row("Open work"))
        .with_panel(_open_work("overdue", "Overdue", RED))
        .with_panel(_open_work("due_soon", "Due soon", AMBER))
        .with_panel(
            text.Panel()
            .title("The list behind these counts")
            .description("The team page lists every open clock with its child, day and due date.")
            .content(
                "Every open clock, most urgent first, and what is at risk this month: "
                "**[the team page for ${team}](${team_page}/teams/${team:percentencode})** "
                "(reader token for the team)."
            )
            .unit("none")
            .height(4)
            .span(8)
        )
        .with_row(gd.Row("Ratings"))
        .with_panel(_rating_table())
        .with_panel(_trend())
        .with_row(gd.Row("Every KPI"))
    )
    for kpi in KPIS.values():
        board = board.with_panel(kpi_stat(kpi, config))
    return board


def _open_work(state: str, title: str, colour: str) -> stat.Panel:
    record = f"team:casetime_open_clocks_{state}:sum"
    panel = (
        stat.Panel()
        .title(f"{title} open clocks")
        .description(
            f"Open clocks {title.lower()} in the team, every KPI (catalogue section 4); due soon:"
            " within the council's due-soon working days."
        )
        .unit("short")
        .thresholds(
            gd.ThresholdsConfig()
            .mode(dm.ThresholdsMode.ABSOLUTE)
            .steps([dm.Threshold(None, GREEN), dm.Threshold(1, colour)])
        )
        .color_mode(BigValueColorMode.BACKGROUND)
        .graph_mode(BigValueGraphMode.AREA)
        .reduce_options(LAST)
        .height(4)
        .span(8)
    )
    return _targets(panel, [Query(f'{record}{{team="$team"}}', title)])


def _trend() -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title("Timeliness over 13 months")
        .description(
            "Each timeliness KPI's rolling 12-month figure for the team, as Prometheus recorded"
            " it (keep 400 days of data for the whole view)."
        )
        .unit("percentunit")
        .min(0)
        .max(1)
        .time_from("13M")
        .height(12)
        .span(12)
    )
    timely = "|".join(k.id for k in KPIS.values() if k.timeliness)
    expr = f'casetime_kpi_ratio{{team="$team", period="rolling_12_months", kpi=~"{timely}"}}'
    return _targets(panel, [Query(expr, "{{kpi}}")])


def _matrix(title: str, description: str, expr: str, column: str, height: int) -> table.Panel:
    """A KPI per row, a team or service per column."""
    panel = (
        table.Panel()
        .title(title)
        .description(description)
        .unit("percentunit")
        .decimals(1)
        .height(height)
        .span(24)
        .with_transformation(
            dm.DataTransformerConfig(
                id_val="groupingToMatrix",
                options={"columnField": column, "rowField": "kpi", "valueField": "Value"},
            )
        )
    )
    return _targets(panel, [Query(expr, instant=True, table=True)])


def _comparators() -> timeseries.Panel:
    panel = (
        timeseries.Panel()
        .title("$kpi: council, target and comparators")
        .description(
            "The council's figure, rolled up from the teams' numerators and denominators, against"
            " the council file's target and comparators (England, statistical neighbours, region,"
            " baseline)."
        )
        .unit("percentunit")
        .min(0)
        .max(1)
        .height(10)
        .span(12)
    )
    return _targets(
        panel,
        [
            Query('council:casetime_kpi_ratio:rollup{kpi="$kpi", period="$period"}', "council"),
            Query('casetime_kpi_target{kpi="$kpi"}', "target"),
            Query('casetime_kpi_comparator{kpi="$kpi"}', "{{comparator}}"),
        ],
    )


def _direction_of_travel() -> table.Panel:
    panel = (
        table.Panel()
        .title("Direction of travel")
        .description(
            "How each council figure is moving: the change per 30 days in its rolling 12-month"
            " ratio over the last 30 days (a rise is better for most KPIs; see each KPI's"
            " polarity in /kpis)."
        )
        .unit("percentunit")
        .decimals(1)
        .height(10)
        .span(12)
    )
    change = 'deriv(casetime_kpi_ratio{team="all", period="rolling_12_months"}[30d]) * 30 * 86400'
    return _targets(panel, [Query(change, instant=True, table=True)])


def _custom(name: str, label: str, values: list[str], default: str) -> gd.CustomVariable:
    return (
        gd.CustomVariable(name)
        .label(label)
        .values(",".join(values))
        .current(dm.VariableOption(selected=True, text=default, value=default))
    )


def overview_dashboard() -> gd.Dashboard:
    ratios = [k.id for k in KPIS.values() if k.measure is Measure.RATIO]
    return (
        gd.Dashboard("casetime · Service and council overview")
        .uid("casetime-overview")
        .tags(["casetime", "generated"])
        .description("Every KPI by team and service, against targets and comparators.")
        .refresh("1m")
        .time("now-30d", "now")
        .timezone("Europe/London")
        .with_variable(_custom("period", "Period", PERIODS, "month"))
        .with_variable(_custom("kpi", "KPI", ratios, "ASMT-45WD"))
        .with_panel(
            _matrix(
                "Every KPI by team",
                "Each ratio KPI for each team and the council (all) in the chosen period;"
                " KPIs counted on a day are as at today.",
                'casetime_kpi_ratio{period=~"$period|as_at", team!="unlisted"}',
                "team",
                14,
            )
        )
        .with_panel(_comparators())
        .with_panel(_direction_of_travel())
        .with_panel(
            _matrix(
                "Every KPI by service",
                "Each ratio KPI for each service of the council file, in the chosen period.",
                'casetime_service_kpi_ratio{period=~"$period|as_at"}',
                "service",
                10,
            )
        )
    )


def _rate(series: str, legend: str) -> Query:
    return Query(f"sum by (service) (rate({series}[$__rate_interval]))", legend)


# (title, description, unit, queries)
PIPELINE: list[tuple[str, str, str, list[Query]]] = [
    (
        "Events accepted per second",
        "Events posted and acknowledged by Kafka, per ingest service.",
        "ops",
        [_rate('casetime_ingest_events_total{outcome="accepted"}', "{{service}}")],
    ),
    (
        "Requests refused per second",
        "Posts refused as invalid (4xx), and events answered 503 because Kafka could not"
        " acknowledge them.",
        "ops",
        [
            _rate("casetime_ingest_requests_rejected_total", "{{service}} invalid"),
            _rate('casetime_ingest_events_total{outcome="unavailable"}', "{{service}} unavailable"),
        ],
    ),
    (
        "Consumer lag",
        "Events published but not yet applied by the KPI service.",
        "short",
        [Query("sum(casetime_kpi_consumer_lag_events)", "events waiting")],
    ),
    (
        "Event to figure",
        "Seconds since the consumer last applied a batch, and the age of the figures served.",
        "s",
        [
            Query("time() - max(casetime_kpi_last_applied_timestamp_seconds)", "since applied"),
            Query("max(casetime_kpi_snapshot_age_seconds)", "figures' age"),
        ],
    ),
    (
        "Dead letters",
        "Messages the consumer could not apply, in the last hour (each is in the dead-letter"
        " topic with its reason).",
        "short",
        [Query("increase(casetime_kpi_dead_letters_total[1h])", "dead letters")],
    ),
    (
        "Data-quality issues",
        "The catalogue's section 9 checks, counted.",
        "short",
        [Query("casetime_data_quality_issues", "{{check}}")],
    ),
]


def pipeline_dashboard() -> gd.Dashboard:
    board = (
        gd.Dashboard("casetime · Pipeline health")
        .uid("casetime-pipeline")
        .tags(["casetime", "generated"])
        .description("From a case system's POST to the figure on a panel: rates, lag, freshness.")
        .refresh("30s")
        .time("now-6h", "now")
        .timezone("Europe/London")
    )
    for title, description, unit, queries in PIPELINE:
        panel = (
            timeseries.Panel().title(title).description(description).unit(unit).height(8).span(12)
        )
        board = board.with_panel(_targets(panel, queries))
    return board


def dashboards(config: CouncilConfig) -> dict[str, dict[str, Any]]:
    """File name -> dashboard JSON."""
    encoder = JSONEncoder(sort_keys=True, indent=2)
    built = {
        "casetime-team.json": team_dashboard(config),
        "casetime-overview.json": overview_dashboard(),
        "casetime-pipeline.json": pipeline_dashboard(),
    }
    return {name: json.loads(encoder.encode(board.build())) for name, board in built.items()}


def rendered(board: dict[str, Any]) -> str:
    return json.dumps(board, indent=2, sort_keys=True) + "\n"


def panels(board: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, rows' panels included."""
    for panel in board.get("panels", []):
        yield panel
        yield from panel.get("panels", [])


def write(config: CouncilConfig, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, board in dashboards(config).items():
        path = folder / name
        path.write_text(rendered(board))
        written.append(path)
    return written
