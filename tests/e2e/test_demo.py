"""The newcomer's demo: `casetime demo --once` exits 0, and its scorecard is what the query API
of a KPI service over the same data says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.support.credentials import access_command, bearer
from tests.support.processes import ServiceProcess

pytestmark = [pytest.mark.infra, pytest.mark.e2e]


def test_demo_once_prints_the_scorecard_the_query_api_serves(tmp_path: Path) -> None:
    data_dir = tmp_path / "demo"
    scorecard_file = tmp_path / "scorecard.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASETIME_")}
    result = subprocess.run(
        [
            sys.executable, "-m", "casetime_tools.cli", "demo", "--once", "--size", "small-team",
            "--data-dir", str(data_dir), "--scorecard-json", str(scorecard_file),
        ],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    scorecard = json.loads(scorecard_file.read_text())
    rows = scorecard["values"]
    assert len({r["kpi"] for r in rows}) == 36
    for row in rows:
        # what was printed is what was fetched
        assert row["kpi"] in result.stdout
        assert f"{row['numerator']:,} / {row['denominator']:,}" in result.stdout
    assert sum(1 for r in rows if r["denominator"]) >= 30

    # A KPI service started again over the demo's data answers the same.
    # The demo printed its credentials; an operator can make more with the command.
    assert "reader token (figures and every team's lists): ct_rd_" in result.stdout
    token = access_command({"CASETIME_DATA_DIR": str(data_dir)}, "reader", "a board member")
    kpi = ServiceProcess("kpi", {"CASETIME_DATA_DIR": str(data_dir)}, tmp_path)
    kpi.start()
    try:
        kpi.wait_ready()
        served = httpx.get(
            f"{kpi.url}/kpis",
            params={"level": "council", "as_at": scorecard["as_at"]},
            timeout=120,
            headers=bearer(token),
        ).json()["values"]
    finally:
        kpi.stop()
    expected = {(r["kpi"], r["period"]): (r["numerator"], r["denominator"], r["rag"]) for r in rows}
    assert {
        (v["kpi"], v["period"]): (v["numerator"], v["denominator"], v["rag"])
        for v in served
        if (v["kpi"], v["period"]) in expected
    } == expected
