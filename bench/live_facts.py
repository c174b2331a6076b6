"""Benchmark (issue 12): the KPI service at the speed of the log, side by side with its
baseline, on the real Kafka and PostgreSQL (``scripts/infra.sh up``).

1. Catch-up: a synthetic council's events published to fresh topics; a plain aiokafka consumer
   reading and json-decoding them (the baseline), then the KPI service's own consumer applying
   them into a fresh database and its facts keeper deriving every touched unit.
2. Freshness: events published at a steady rate on top of that case book, from a process of
   their own as the ingest services publish them; for each, the time from publishing to the
   figure served by /metrics (the keeper's snapshot) counting it.
3. Past dates: a kept date's figures read from the totals, as ``/kpis?as_at=`` does.

    uv run python bench/live_facts.py [--children-per-year 3500] [--rate 1000] [--seconds 20]
    uv run python bench/live_facts.py --smoke   # CI: small, checks it runs, writes nothing

Results are appended to bench/RESULTS.md unless --smoke.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import sys
import time
import uuid
from datetime import date
from multiprocessing.connection import Connection
from typing import Any

from aiokafka import AIOKafkaProducer

from bench_support import (
    KAFKA,
    append_row,
    baseline,
    children_in,
    commit,
    council_events,
    fresh_database,
    percentile,
    publish,
    referral,
    rss_mb,
    today,
)
from casetime.publishing import ensure_topics
from casetime.topics import event_topics, topic_for
from kpi.adapters.consumer import KafkaEventSource
from kpi.adapters.snapshots import SnapshotRefresher, kept_dates
from kpi.adapters.store import CaseStore
from kpi.domain.calendar import england_calendar
from kpi.domain.council import CouncilConfig
from kpi.settings import KpiSettings

AS_AT = date(2025, 3, 31)
CONFIG = CouncilConfig(council="Bench", population_0_to_17=250_000)


async def until(condition: Any, every: float = 0.05) -> None:
    while not await condition():  # noqa: ASYNC110  # polling the service's own counters
        await asyncio.sleep(every)


async def _paced_referrals(prefix: str, rate: int, total: int) -> list[float]:
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, linger_ms=0, acks="all")
    await producer.start()
    published: list[float] = []
    started = time.monotonic()
    try:
        topic = topic_for("referrals", prefix)
        for i in range(total):
            await asyncio.sleep(max(0.0, started + i / rate - time.monotonic()))
            child = f"F{i}-{uuid.uuid4().hex[:6]}"
            await producer.send(topic, referral(child, AS_AT), key=child.encode())
            published.append(time.monotonic())
    finally:
        await producer.stop()
    return published


def post_referrals(prefix: str, rate: int, total: int, out: Connection) -> None:
    """In a process of its own, as the ingest services are: publish at the rate, and send back
    when each was published (the monotonic clock is the machine's, shared by processes)."""
    out.send("ready")
    out.send(asyncio.run(_paced_referrals(prefix, rate, total)))


async def freshness(
    prefix: str, keeper: SnapshotRefresher, rate: int, seconds: float
) -> list[float]:
    """Seconds from publishing each new referral to the served RATE-CIN counting it."""

    def counted() -> int:
        snapshot = keeper.snapshot
        return snapshot.figure("RATE-CIN", "as_at").numerator if snapshot else 0

    base = counted()
    seen: list[float] = []
    total = int(rate * seconds)
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    poster = multiprocessing.get_context("spawn").Process(
        target=post_referrals, args=(prefix, rate, total, theirs)
    )
    poster.start()
    await asyncio.to_thread(ours.recv)  # started up: its imports are not counted
    deadline = time.monotonic() + seconds + 120
    while len(seen) < total:
        now, count = time.monotonic(), counted() - base
        seen.extend(now for _ in range(len(seen), min(count, total)))
        await asyncio.sleep(0.01)
        if now > deadline:
            raise TimeoutError("the referrals were not all counted")
    published: list[float] = await asyncio.to_thread(ours.recv)
    poster.join()
    return [s - p for s, p in zip(seen, published, strict=True)]


async def past_dates(keeper: SnapshotRefresher, repeats: int) -> list[float]:
    dates = sorted(d for d in keeper._built if d != keeper.as_at())
    times = []
    for i in range(repeats):
        started = time.perf_counter()
        await keeper.kept(dates[i % len(dates)])
        times.append(time.perf_counter() - started)
    return times


async def main(args: argparse.Namespace) -> dict[str, Any]:
    bodies = council_events(args.children_per_year)
    prefix = f"bench-{uuid.uuid4().hex[:8]}"
    settings = KpiSettings(
        kafka_bootstrap_servers=KAFKA,
        topic_prefix=prefix,
        consumer_group=f"{prefix}-kpi",
        kpi_as_at=AS_AT,
    )
    await ensure_topics(settings, event_topics(prefix))
    await publish(prefix, bodies)
    baseline_seconds = await baseline(prefix, len(bodies))

    url = await fresh_database()
    store = CaseStore(url)
    rss_before = rss_mb()
    source = KafkaEventSource(settings.model_copy(update={"database_url": url}), store)
    keeper = SnapshotRefresher(
        store,
        CONFIG,
        england_calendar(),
        1.0,
        fixed_as_at=AS_AT,
        backlog=lambda: source.stats.total_lag,
        fact_workers=settings.fact_workers,
    )
    source.stats.on_applied = keeper.wake.set
    started = time.perf_counter()
    await keeper.start()
    await source.start()

    async def applied_all() -> bool:
        return sum(source.stats.applied.values()) + source.stats.dead_letters >= len(bodies)

    async with asyncio.timeout(3_600):
        await until(applied_all, every=0.1)
    applied_seconds = time.perf_counter() - started

    async def facts_done() -> bool:
        # every kept date built too: the freshness load meets the steady state
        built = keeper._built == kept_dates(AS_AT)
        return built and keeper.pending_units == 0 and keeper.snapshot is not None

    async with asyncio.timeout(3_600):
        await until(facts_done, every=0.1)
    facts_seconds = time.perf_counter() - started
    units = children_in(bodies)
    lags = await freshness(prefix, keeper, args.rate, args.seconds)
    past = await past_dates(keeper, 200)
    rss_after = rss_mb()
    await source.stop()
    await keeper.stop()
    await store.dispose()
    events = len(bodies)
    return {
        "events": events,
        "children": units,
        "baseline_ev_s": events / baseline_seconds,
        "applied_ev_s": events / applied_seconds,
        "with_facts_ev_s": events / facts_seconds,
        "ratio": (events / applied_seconds) / (events / baseline_seconds),
        "ratio_with_facts": (events / facts_seconds) / (events / baseline_seconds),
        "fresh_p50": percentile(lags, 0.5),
        "fresh_p99": percentile(lags, 0.99),
        "fresh_n": len(lags),
        "rate": args.rate,
        "past_p50_ms": percentile(past, 0.5) * 1000,
        "past_p99_ms": percentile(past, 0.99) * 1000,
        "rss_mb": rss_after,
        "rss_growth_mb": rss_after - rss_before,
    }


def write_down(result: dict[str, Any]) -> None:
    row = (
        f"| {today()} | {commit()} | {result['events']:,} |"
        f" {result['children']:,} | {result['baseline_ev_s']:,.0f} |"
        f" {result['applied_ev_s']:,.0f} ({result['ratio']:.3f}) |"
        f" {result['with_facts_ev_s']:,.0f} ({result['ratio_with_facts']:.3f}) |"
        f" {result['rate']:,} ev/s: p50 {result['fresh_p50']:.2f} s, p99"
        f" {result['fresh_p99']:.2f} s | p50 {result['past_p50_ms']:.0f} ms, p99"
        f" {result['past_p99_ms']:.0f} ms | {result['rss_mb']:,.0f} MB |\n"
    )
    append_row(
        "## Live facts (`uv run python bench/live_facts.py`)",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python"
        f" {platform.python_version()}; Kafka and PostgreSQL from `scripts/infra.sh up`.\n\n"
        "| date | commit | events | children | baseline: plain consumer | KPI consumer"
        " applied (ratio) | applied and facts derived (ratio) | event to /metrics |"
        " kept past date | RSS |\n|---|---|---:|---:|---:|---:|---:|---|---|---:|\n",
        row,
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children-per-year", type=int, default=3_500)
    parser.add_argument("--rate", type=int, default=1_000)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--smoke", action="store_true")
    parsed = parser.parse_args()
    if parsed.smoke:
        parsed.children_per_year, parsed.rate, parsed.seconds = 60, 50, 2.0
    outcome = asyncio.run(main(parsed))
    print(json.dumps(outcome, indent=2))
    if not parsed.smoke:
        write_down(outcome)
    sys.exit(0)
