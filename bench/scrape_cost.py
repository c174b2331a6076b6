"""Benchmark: a /metrics scrape costs the same for 1,000 open cases as for 1,000,000.

The collector reads the evaluation the background refresher made; the scrape never touches the
case book. This builds case books of growing size (open assessments spread over 12 teams), times
one background evaluation of each, then times scrapes of the resulting snapshot.

    uv run python bench/scrape_cost.py [sizes...]
"""

from __future__ import annotations

import functools
import sys
import time
import tracemalloc
from datetime import date, timedelta

from prometheus_client import CollectorRegistry, generate_latest

from casetime.events import LONDON
from kpi.adapters.consumer import ConsumerStats
from kpi.adapters.metrics import KpiCollector
from kpi.domain.calendar import england_calendar
from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.council import CouncilConfig
from kpi.domain.episodes import Assessment, Referral
from kpi.domain.evaluation import evaluate

AS_AT = date(2025, 3, 31)
TEAMS = [f"Team {i:02d}" for i in range(12)]
SCRAPES = 200


def casebook(open_cases: int) -> CaseBook:
    from datetime import datetime
    from datetime import time as clock

    episodes: list[Assessment | Referral] = []
    for i in range(open_cases):
        started = AS_AT - timedelta(days=i % 60)
        team = TEAMS[i % len(TEAMS)]
        episodes.append(
            Referral(
                episode_id=f"R{i}",
                child_id=f"C{i}",
                team=team,
                received_at=datetime.combine(started, clock(9), tzinfo=LONDON),
            )
        )
        episodes.append(
            Assessment(
                episode_id=f"A{i}",
                child_id=f"C{i}",
                team=team,
                referral_id=f"R{i}",
                started_on=started,
            )
        )
    return CaseBook(episodes)


def main(sizes: list[int]) -> None:
    print(f"| open cases | evaluation (background) | scrape, mean of {SCRAPES} | scrape bytes |")
    print("|---:|---:|---:|---:|")
    config = CouncilConfig(council="Bench")
    for size in sizes:
        book = casebook(size)
        started = time.perf_counter()
        evaluation = evaluate(book, RuleContext(AS_AT, england_calendar()), config)
        evaluated = time.perf_counter() - started
        registry = CollectorRegistry()
        registry.register(
            KpiCollector(functools.partial(lambda e: e, evaluation), lambda: 0.0, ConsumerStats())
        )
        body = generate_latest(registry)
        tracemalloc.start()
        started = time.perf_counter()
        for _ in range(SCRAPES):
            generate_latest(registry)
        per_scrape = (time.perf_counter() - started) / SCRAPES
        tracemalloc.stop()
        print(f"| {size:,} | {evaluated:.2f} s | {per_scrape * 1000:.2f} ms | {len(body):,} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main([int(s) for s in sys.argv[1:]] or [1_000, 10_000, 100_000, 1_000_000])
