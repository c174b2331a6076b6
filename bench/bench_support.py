"""What the benchmarks share: a synthetic council's events on the real Kafka, a plain consumer
as the baseline, fresh PostgreSQL databases, percentiles and the results file."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from casetime.events import LONDON
from casetime.topics import event_topics, topic_for
from casetime_tools.synthetic import generate
from connectors.posting import route_event
from kpi.migrations import upgrade_to_head

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
KAFKA = os.environ.get("CASETIME_BENCH_KAFKA", "127.0.0.1:19092")
POSTGRES = os.environ.get("CASETIME_BENCH_POSTGRES", "postgres@127.0.0.1:15432")


def council_events(children_per_year: int, seed: int = 12) -> list[bytes]:
    """Two years of a synthetic council's events, in the order a case system would post them."""
    raw = generate(
        seed=seed, start=date(2023, 4, 1), end=date(2025, 4, 1), children_per_year=children_per_year
    )
    return [json.dumps(e).encode() for e in raw]


def referral(child: str, received: date) -> bytes:
    """A new child's referral, received at 09:00 London time: what the freshness runs post."""
    when = (
        datetime.combine(received, datetime.min.time(), tzinfo=LONDON) + timedelta(hours=9)
    ).isoformat()
    return json.dumps(
        {
            "schema_version": 1,
            "event_id": f"bench-{child}",
            "event_type": "referral_received",
            "child_id": child,
            "episode_id": f"REF-{child}",
            "team": "North Assessment",
            "source_system": "bench",
            "occurred_at": when,
            "recorded_at": when,
            "revision": 1,
            "payload": {"referral_source": "1A"},
        }
    ).encode()


def children_in(bodies: list[bytes]) -> int:
    return len({json.loads(b)["child_id"] for b in bodies})


async def publish(prefix: str, bodies: list[bytes]) -> None:
    """Every event to its service's topic, keyed by child id as the ingest services do."""
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, linger_ms=20, acks="all")
    await producer.start()
    try:
        pending = []
        episode_services: dict[str, str] = {}
        for body in bodies:
            event = json.loads(body)
            topic = topic_for(route_event(event, episode_services), prefix)
            pending.append(await producer.send(topic, body, key=event["child_id"].encode()))
            if len(pending) >= 5_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()


async def baseline(prefix: str, total: int) -> float:
    """A plain consumer reading and decoding every event: seconds."""
    consumer = AIOKafkaConsumer(
        *event_topics(prefix),
        bootstrap_servers=KAFKA,
        group_id=f"{prefix}-baseline",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        started, seen = time.perf_counter(), 0
        while seen < total:
            batches = await consumer.getmany(timeout_ms=500, max_records=500)
            for records in batches.values():
                for record in records:
                    json.loads(record.value or b"")
                seen += len(records)
        return time.perf_counter() - started
    finally:
        await consumer.stop()


async def fresh_database() -> str:
    """A new PostgreSQL database, migrated to head: its URL."""
    name = f"casetime_bench_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(f"postgresql://{POSTGRES}/postgres")
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = f"postgresql+asyncpg://{POSTGRES}/{name}"
    await asyncio.to_thread(upgrade_to_head, url)
    return url


async def drop_databases(url: str) -> None:
    """Drop the database at ``url`` and those named after it (a rebuild's retired state)."""
    name = url.rsplit("/", 1)[1]
    conn = await asyncpg.connect(f"postgresql://{POSTGRES}/postgres")
    try:
        names = await conn.fetch(
            "SELECT datname FROM pg_database WHERE datname = $1 OR datname LIKE $2",
            name,
            f"{name}\\_%",
        )
        for row in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
    finally:
        await conn.close()


def rss_mb(pid: int | str = "self", field: str = "VmRSS") -> float:
    """A process's resident set (VmRSS) or its peak (VmHWM), in MB."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) / 1024
    return 0.0


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(share * len(ordered)), len(ordered) - 1)]


def commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=ROOT
    ).stdout.strip()


def today() -> str:
    return f"{datetime.now(LONDON):%Y-%m-%d}"


def append_row(header: str, table_head: str, row: str) -> None:
    """Add ``row`` under the last row of the table below ``header`` (made when missing), above
    any notes that follow the table."""
    text = RESULTS.read_text()
    if header not in text:
        text += f"\n{header}\n\n{table_head}"
    table = text.index(header)
    lines = text[table:].splitlines(keepends=True)
    last = max(i for i, line in enumerate(lines) if line.startswith("|"))
    at = table + sum(len(line) for line in lines[: last + 1])
    RESULTS.write_text(text[:at] + row + text[at:])
