"""Benchmark: how fast the synthetic council generates a year, and how much memory it holds.

Each case runs in a fresh process, so its peak resident memory is its own. It generates a
financial year (and the backload of the children already known) and only counts the events,
as a replay writer or poster would stream them.

    uv run python bench/generator_speed.py [case ...]

Cases: a size name (small-team, mid-sized, large, national) or NAME/N for a 1/N slice of it.
Default: mid-sized and national/20.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from datetime import date

from casetime_tools.synthetic import SIZES, generate

START, END = date(2024, 4, 1), date(2025, 4, 1)
DEFAULT_CASES = ("mid-sized", "national/20")


def children_per_year(case: str) -> int:
    name, _, part = case.partition("/")
    return SIZES[name] // int(part or 1)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def run_one(case: str) -> dict[str, float]:
    """In this process: generate one year of ``case`` and measure it."""
    baseline = peak_rss_mb()
    began = time.perf_counter()
    total = in_window = 0
    window_start = START.isoformat()
    for event in generate(
        seed=2025, start=START, end=END, children_per_year=children_per_year(case)
    ):
        total += 1
        if event["occurred_at"][:10] >= window_start:
            in_window += 1
    elapsed = time.perf_counter() - began
    return {
        "children_per_year": children_per_year(case),
        "events": total,
        "events_in_year": in_window,
        "seconds": elapsed,
        "events_per_second": total / elapsed,
        "peak_rss_mb": peak_rss_mb(),
        "rss_growth_mb": peak_rss_mb() - baseline,
    }


def main(cases: list[str]) -> None:
    print(
        f"{'case':<14}{'children/yr':>12}{'events':>11}{'in year':>11}{'seconds':>9}"
        f"{'events/s':>10}{'peak RSS MB':>13}{'growth MB':>11}"
    )
    for case in cases:
        children_per_year(case)  # fail early on a bad name
        out = subprocess.run(
            [sys.executable, __file__, "--one", case],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        r = json.loads(out)
        print(
            f"{case:<14}{r['children_per_year']:>12,}{r['events']:>11,}"
            f"{r['events_in_year']:>11,}{r['seconds']:>9.2f}{r['events_per_second']:>10,.0f}"
            f"{r['peak_rss_mb']:>13,.0f}{r['rss_growth_mb']:>11,.0f}"
        )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(run_one(sys.argv[2])))
    else:
        main(sys.argv[1:] or list(DEFAULT_CASES))
