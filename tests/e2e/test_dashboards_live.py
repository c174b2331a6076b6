"""Every panel's query of every dashboard, evaluated by a real Prometheus (Debian's, installed by
scripts/prometheus.sh) that scrapes the real services on Kafka and PostgreSQL, fed a synthetic
council's year: each query returns data, and each KPI stat equals the figure /kpis gives."""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from casetime_tools.cli import wait_until_applied
from casetime_tools.dashboards import panels
from casetime_tools.synthetic import generate
from connectors.posting import post_events
from kpi.domain.kpis import KPIS
from tests.e2e.conftest import System
from tests.support import credentials as authed
from tests.support.scripts import REPO, run_script

pytestmark = [pytest.mark.infra, pytest.mark.e2e]

AS_AT = date(2025, 2, 14)  # CASETIME_KPI_AS_AT in tests/e2e/conftest.py
DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"
RULES = REPO / "deploy" / "prometheus" / "rules" / "casetime.rules.yml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def prometheus_config(system: System, token_file: Path) -> dict[str, Any]:
    auth = {"type": "Bearer", "credentials_file": str(token_file)}
    ingest = [
        system.url(s).removeprefix("http://") for s in ("referrals", "assessments", "placements")
    ]
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {
                "job_name": "casetime-kpi",
                "metrics_path": "/metrics/",
                "authorization": auth,
                "static_configs": [{"targets": [system.kpi.url.removeprefix("http://")]}],
            },
            {
                "job_name": "casetime-ingest",
                "metrics_path": "/metrics/",
                "authorization": auth,
                "static_configs": [{"targets": ingest}],
            },
        ],
    }


@pytest.fixture
def prometheus(casetime_system: System, tmp_path: Path) -> Iterator[str]:
    run_script("prometheus.sh", "install")
    executable = shutil.which("prometheus")
    assert executable, "prometheus is not installed"
    token_file = tmp_path / "prometheus-token"
    token_file.write_text(casetime_system.credentials.board)  # figures only, as deployed
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump(prometheus_config(casetime_system, token_file)))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("w")
    process = subprocess.Popen(
        [
            executable,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{url}/-/ready", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert process.poll() is None, (tmp_path / "prometheus.log").read_text()
            assert time.monotonic() < deadline, "Prometheus not ready"
            time.sleep(0.25)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()


def feed(system: System) -> int:
    events = list(
        generate(seed=2025, start=AS_AT - timedelta(days=365), end=AS_AT, children_per_year=1000)
    )
    urls = {s: system.url(s) for s in ("referrals", "assessments", "placements")}
    report = asyncio.run(post_events(events, urls, source_key=system.credentials.source_key))
    # every event taken off the log, whatever applying it did (revisions replace, voids too)
    authed.present(system.kpi.url, system.credentials.reader)
    wait_until_applied(system.kpi.url, report.total, system.credentials.reader, timeout=180)
    # one bad request, as a case system sends now and then
    bad = authed.post(f"{system.url('referrals')}/events", json={"event_type": "nonsense"})
    assert bad.status_code == 422
    return report.total


def query(prometheus: str, expr: str) -> list[dict[str, Any]]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=30).json()
    assert answer["status"] == "success", (expr, answer)
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def substituted(expr: str, variables: dict[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        return variables[match.group(1) or match.group(2)]

    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", value, expr)


def wait_for_data(prometheus: str) -> None:
    """Recording rules evaluated, and enough scrapes for rate() and deriv()."""
    deadline = time.monotonic() + 60
    while True:
        samples = query(prometheus, "count_over_time(casetime_kpi_consumer_up[1m])")
        rollup = query(prometheus, "team:casetime_open_clocks_overdue:sum")
        if samples and float(samples[0]["value"][1]) >= 6 and rollup:
            return
        assert time.monotonic() < deadline, "Prometheus has not scraped enough"
        time.sleep(0.5)


@pytest.mark.parametrize("casetime_system", ["kafka"], indirect=True)
def test_every_panel_query_returns_data_and_every_kpi_stat_equals_the_query_api(
    casetime_system: System, prometheus: str
) -> None:
    system = casetime_system
    fed = feed(system)
    wait_for_data(prometheus)
    api = authed.get(f"{system.kpi.url}/kpis", timeout=120).json()["values"]
    figures = {
        (v["kpi"], v["period"], v["team"]): v["value"]
        for v in api
        if v["level"] in ("team", "council") and v["value"] is not None
    }
    # the team with most figures stands for "$team"; a KPI stat is checked for a team that has it
    counts: dict[str, int] = {}
    for _, _, team in figures:
        if team != "all":
            counts[team] = counts.get(team, 0) + 1
    busiest = max(counts, key=lambda t: counts[t])
    # rolling 12 months: a council's month to date leaves some cohorts empty
    base = {
        "period": "rolling_12_months",
        "kpi": "ASMT-45WD",
        "__rate_interval": "30s",
        "team_page": system.kpi.url,
    }
    evaluated = 0
    stats: set[str] = set()
    for path in sorted(DASHBOARDS.glob("*.json")):
        board = yaml.safe_load(path.read_text())
        for panel in panels(board):
            targets = panel.get("targets", [])
            if panel["type"] == "stat" and panel["title"] in KPIS:
                check_kpi_stat(prometheus, panel, figures, base)
                stats.add(panel["title"])
                continue
            for target in targets:
                expr = substituted(target["expr"], {**base, "team": busiest})
                assert query(prometheus, expr), f"{path.name}: {panel['title']}: no data for {expr}"
                evaluated += 1
            if panel["type"] == "text":
                link = re.search(r"\]\(([^)]+)\)", panel["options"]["content"])
                assert link is not None
                page = authed.get(substituted(link.group(1), {**base, "team": busiest}))
                assert page.status_code == 200, page.text
    print(
        f"\n[dashboards] {fed} events; {evaluated} panel queries returned data; {len(stats)} KPI"
        f" stats equal /kpis ($team={busiest!r}, $period={base['period']})"
    )
    assert stats == set(KPIS)


def check_kpi_stat(
    prometheus: str,
    panel: dict[str, Any],
    figures: dict[tuple[str, str, str], float],
    base: dict[str, str],
) -> None:
    """The stat's figure, for a team that has one (else the council), equals /kpis'."""
    kpi = panel["title"]
    expr = substituted(panel["targets"][0]["expr"], {**base, "team": "{team}"})
    period = re.search(r'period="(\w+)"', expr)
    assert period is not None
    teams = sorted(t for k, p, t in figures if k == kpi and p == period.group(1))
    assert teams, f"{kpi}: no figure in /kpis for {period.group(1)}"
    team = next((t for t in teams if t != "all"), "all")
    result = query(prometheus, expr.replace("{team}", team))
    assert len(result) == 1, (kpi, team, result)
    assert float(result[0]["value"][1]) == pytest.approx(figures[(kpi, period.group(1), team)])
