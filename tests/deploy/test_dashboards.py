"""The Grafana dashboards are code: the committed JSON is what `casetime dashboards` generates
today, every panel says what it shows and in what unit, and every query reads a series
deploy/METRICS.md documents. (Every query is also evaluated against a real Prometheus:
tests/e2e/test_dashboards_live.py.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from casetime_tools.dashboards import dashboards, panels, rendered, thresholds
from kpi.adapters.council_file import load_council_config
from kpi.domain.council import KpiTarget, RagRule
from kpi.domain.kpis import KPIS
from kpi.domain.kpis.base import Polarity

FOLDER = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards"
METRICS_MD = Path(__file__).resolve().parents[2] / "deploy" / "METRICS.md"
SERIES = re.compile(r"\b((?:[a-z]+:)?casetime_[a-z_]+(?::[a-z]+)?)\b")


def committed() -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_text()) for p in sorted(FOLDER.glob("*.json"))}


def test_the_committed_dashboards_are_a_fresh_generation() -> None:
    fresh = dashboards(load_council_config(None))
    assert sorted(fresh) == sorted(committed()), "run `uv run casetime dashboards`"
    for name, board in fresh.items():
        assert (FOLDER / name).read_text() == rendered(board), f"{name}: run `casetime dashboards`"


def test_every_panel_has_a_title_a_unit_and_a_description() -> None:
    for name, board in committed().items():
        assert board["title"].startswith("casetime")
        assert board.get("description")
        for panel in panels(board):
            if panel["type"] == "row":
                continue
            where = f"{name}: {panel.get('title')}"
            assert panel.get("title"), where
            assert panel.get("description"), where
            assert panel.get("fieldConfig", {}).get("defaults", {}).get("unit"), where


def test_every_query_reads_a_documented_series() -> None:
    documented = set(SERIES.findall(METRICS_MD.read_text()))
    exprs = [
        t["expr"]
        for board in committed().values()
        for p in panels(board)
        for t in p.get("targets", [])
    ]
    assert exprs
    for expr in exprs:
        used = SERIES.findall(expr)
        assert used, expr
        for series in used:
            base = re.sub(r"_total$", "", series)
            assert series in documented or f"{base}_total" in documented or base in documented, (
                f"{series} (in {expr}) is not in deploy/METRICS.md"
            )


def test_the_team_dashboard_has_a_stat_for_every_kpi_with_the_councils_colours() -> None:
    team = committed()["casetime-team.json"]
    stats = {p["title"]: p for p in panels(team) if p["type"] == "stat"}
    assert set(KPIS) <= set(stats)
    config = load_council_config(None)
    asmt = stats["ASMT-45WD"]
    steps = asmt["fieldConfig"]["defaults"]["thresholds"]["steps"]
    goal = config.target_for("ASMT-45WD").target
    assert goal is not None
    # higher is better: Red below 90% less 10% of it, Amber up to 90%, Green from it
    assert [s["value"] for s in steps] == [None, pytest.approx(goal * 0.9), goal]
    assert asmt["fieldConfig"]["defaults"]["unit"] == "percentunit"
    assert any("$team" in t["expr"] for t in asmt["targets"])
    assert any(v["name"] == "team" for v in team["templating"]["list"])
    links = [p for p in panels(team) if p["type"] == "text"]
    assert any("/teams/${team:percentencode}" in p["options"]["content"] for p in links)


@pytest.mark.parametrize(
    ("target", "polarity", "expected"),
    [
        (KpiTarget(target=0.9), Polarity.HIGHER_IS_BETTER, [None, 0.81, 0.9]),
        (KpiTarget(target=0.2), Polarity.LOWER_IS_BETTER, [None, 0.2, 0.22]),
        (
            KpiTarget(target=0.9, rag_rule=RagRule.FLOOR, floor=0.7),
            Polarity.HIGHER_IS_BETTER,
            [None, 0.7, 0.9],
        ),
        (KpiTarget(), Polarity.HIGHER_IS_BETTER, [None]),
    ],
)
def test_stat_colours_follow_the_rag_rule(
    target: KpiTarget, polarity: Polarity, expected: list[float | None]
) -> None:
    values = [step.value for step in thresholds(target, polarity)]
    assert values == [None if e is None else pytest.approx(e) for e in expected]
