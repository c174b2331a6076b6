"""The benchmarks run (issue 12): a small smoke of each on every CI run, so that they cannot rot.
The figures they print are measured, not judged here (speed targets live in bench/RESULTS.md);
what is checked is that each measured what it says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.infra


def run_bench(script: str, *args: str, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result.stdout


def test_the_live_facts_benchmark_measures_every_row(
    kafka_bootstrap: str, postgres_server: str
) -> None:
    before = (ROOT / "bench" / "RESULTS.md").read_text()
    out = run_bench(
        "live_facts.py",
        "--smoke",
        env={"CASETIME_BENCH_KAFKA": kafka_bootstrap, "CASETIME_BENCH_POSTGRES": postgres_server},
    )
    figures = json.loads(out[out.index("{") :])
    # every event was applied and every referral posted afterwards was seen in the figures
    assert figures["events"] > 1_000
    assert figures["children"] > 50
    assert figures["fresh_n"] == 100
    assert 0 < figures["fresh_p50"] <= figures["fresh_p99"]
    assert 0 < figures["past_p50_ms"] <= figures["past_p99_ms"]
    assert figures["ratio"] > 0
    assert figures["baseline_ev_s"] > figures["applied_ev_s"] > 0
    # a smoke writes nothing down
    assert (ROOT / "bench" / "RESULTS.md").read_text() == before
