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

from tests.support.samples import SAMPLES, needs_samples

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


def test_the_scale_benchmark_measures_a_size_end_to_end(
    kafka_bootstrap: str, postgres_server: str, tmp_path: Path
) -> None:
    before = (ROOT / "bench" / "RESULTS.md").read_text()
    plot = tmp_path / "scale.png"
    out = run_bench(
        "scale.py",
        "--smoke",
        "--plot",
        str(plot),
        "--work",
        str(tmp_path),
        env={"CASETIME_BENCH_KAFKA": kafka_bootstrap, "CASETIME_BENCH_POSTGRES": postgres_server},
    )
    sizes = json.loads(out[out.index("[") :])
    # one small size: the smoke is there so that the benchmark cannot rot, in a third of a
    # minute; the sizes' order and the plot's shape are the same code for one size as for three
    assert len(sizes) == 1
    assert sizes[0]["children"] > 20
    for size in sizes:
        # the rebuild replayed every event, then the service derived and served them
        assert size["rebuild_ev_s"] * size["rebuild_s"] == pytest.approx(size["events"])
        assert size["facts_s"] > 0
        assert 0 < size["stall_p99_ms"] <= size["stall_max_ms"]
        assert size["dropped_out"] == 0
        assert 0 < size["rss_mb"] <= size["peak_mb"]
        assert 0 < size["kept_p50_ms"] <= size["kept_p99_ms"]
        assert 0 < size["not_kept_p50_ms"] <= size["not_kept_p99_ms"]
        assert size["fresh_n"] == 5
        assert 0 < size["fresh_p50_s"] <= size["fresh_p99_s"]
    assert plot.read_bytes().startswith(b"\x89PNG")
    assert (ROOT / "bench" / "RESULTS.md").read_text() == before


@needs_samples
def test_the_importers_benchmark_measures_every_sample() -> None:
    out = run_bench("importers.py", env={"CASETIME_SAMPLES": str(SAMPLES)})
    rows = [
        line.split("|") for line in out.splitlines() if line.startswith("| ") and "---" not in line
    ]
    measured = rows[1:]
    assert len(measured) == 4
    for row in measured:
        assert int(row[2].replace(",", "")) > 0  # rows
        assert int(row[3].replace(",", "")) > 0  # events
