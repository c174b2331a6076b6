"""Rebuild the KPI state from the start of the event log into fresh tables, then switch over.

On PostgreSQL: replay every event into a new database while the live service keeps running,
compare the figures, rename the new database into the live one's place (the service's
connections are closed and reconnect by name), then replay what arrived meanwhile. Everything
is applied through the same event store, so overlaps are duplicates and change nothing.

In embedded mode the KPI service must be stopped: the log is replayed into a new SQLite file
that then replaces the old one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from sqlalchemy.engine import make_url

from casetime.access.store import carry_access
from casetime.eventlog import EventLog
from casetime.events import LONDON
from casetime.topics import event_topics
from kpi.adapters.consumer import ConsumerStats, RawRecord, RecordApplier
from kpi.adapters.council_file import load_council_config
from kpi.adapters.store import CaseStore
from kpi.domain.calendar import england_calendar
from kpi.domain.casebook import RuleContext
from kpi.domain.evaluation import evaluate
from kpi.migrations import upgrade_to_head
from kpi.service import KafkaPosition
from kpi.settings import KpiSettings

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (done, total)


@dataclass(frozen=True)
class RebuildReport:
    replayed: int
    caught_up: int
    figures_compared: int
    figures_differing: int
    seconds: float
    previous_state: str


Figures = dict[tuple[str, str, str], tuple[int, int]]


async def _figures(store: CaseStore, settings: KpiSettings) -> Figures:
    config = load_council_config(settings.council_config)
    as_at = settings.kpi_as_at or datetime.now(LONDON).date()
    book = await store.load_casebook()
    context = RuleContext(
        as_at, england_calendar(config.working_day_convention), config.rule_settings()
    )
    evaluation = await asyncio.to_thread(evaluate, book, context, config)
    return {
        (f.kpi, f.period, f.team): (f.figure.numerator, f.figure.denominator)
        for f in evaluation.figures
    }


async def _replay_kafka(
    settings: KpiSettings,
    store: CaseStore,
    start: dict[TopicPartition, int] | None,
    progress: Progress,
) -> tuple[int, dict[TopicPartition, int]]:
    """Apply every event from ``start`` (default: the beginning) up to the end offsets as they
    are now; return how many were applied and where the replay stopped."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        enable_auto_commit=False,
        group_id=None,
        client_id="casetime-kpi-rebuild",
    )
    await consumer.start()
    try:
        partitions = []
        for topic in event_topics(settings.topic_prefix):
            for partition in await _partitions(consumer, topic):
                partitions.append(TopicPartition(topic, partition))
        consumer.assign(partitions)
        beginnings = await consumer.beginning_offsets(partitions)
        ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        first = {tp: (start or beginnings).get(tp, beginnings[tp]) for tp in partitions}
        for tp in partitions:
            consumer.seek(tp, first[tp])
        total = sum(max(ends[tp] - first[tp], 0) for tp in partitions)
        applier = RecordApplier(store, ConsumerStats())
        done = 0
        progress(done, total)
        remaining = {tp for tp in partitions if first[tp] < ends[tp]}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000, max_records=1000)
            for tp, records in batches.items():
                wanted = [r for r in records if r.offset < ends[tp]]
                if wanted:
                    await applier.apply(
                        [
                            RawRecord(KafkaPosition(r.topic, r.partition, r.offset), r.value)
                            for r in wanted
                        ]
                    )
                    done += len(wanted)
                    progress(done, total)
                if records and records[-1].offset + 1 >= ends[tp]:
                    remaining.discard(tp)
                    consumer.pause(tp)
        return done, ends
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    found = consumer.partitions_for_topic(topic)
    if not found:
        await consumer._client.force_metadata_update()
        found = consumer.partitions_for_topic(topic)
    return set(found or ())


async def _switch_databases(admin_dsn: str, live: str, fresh: str, retired: str) -> None:
    """Rename ``fresh`` into ``live``'s place; the live service's connections are closed and
    it reconnects by name to the rebuilt state."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        for attempt in range(50):
            await conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = ANY($1::text[]) AND pid <> pg_backend_pid()",
                [live, fresh],
            )
            try:
                async with conn.transaction():
                    await conn.execute(f'ALTER DATABASE "{live}" RENAME TO "{retired}"')
                    await conn.execute(f'ALTER DATABASE "{fresh}" RENAME TO "{live}"')
                return
            except asyncpg.ObjectInUseError:
                # the service reconnected between the two statements: close it again
                await asyncio.sleep(0.05 * (attempt + 1))
        raise RuntimeError("could not switch databases: they stay in use")
    finally:
        await conn.close()


async def rebuild_postgres(settings: KpiSettings, progress: Progress) -> RebuildReport:
    started = time.monotonic()
    live_url = make_url(settings.state_store_url)
    live = live_url.database or "casetime"
    stamp = datetime.now(LONDON).strftime("%Y%m%d%H%M%S")
    fresh, retired = f"{live}_rebuild", f"{live}_before_rebuild_{stamp}"
    admin_dsn = live_url.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{fresh}"')
    finally:
        await conn.close()
    fresh_url = live_url.set(database=fresh).render_as_string(hide_password=False)
    await asyncio.to_thread(upgrade_to_head, fresh_url)

    fresh_store = CaseStore(fresh_url)
    try:
        replayed, stopped_at = await _replay_kafka(settings, fresh_store, None, progress)
        rebuilt = await _figures(fresh_store, settings)
    finally:
        await fresh_store.dispose()
    differing = await _differing_from_live(rebuilt, settings)

    # the credentials and the audit log are not in the event log: they move with the state,
    # before the switch (so no key stops working) and again after it (what the switch raced)
    carried = await carry_access(settings.state_store_url, fresh_url)
    await _switch_databases(admin_dsn, live, fresh, retired)
    retired_url = live_url.set(database=retired).render_as_string(hide_password=False)
    await carry_access(retired_url, settings.state_store_url, carried)
    # what arrived between the replay's end and the switch, now into the renamed database
    switched = CaseStore(settings.state_store_url)
    try:
        caught_up, _ = await _replay_kafka(settings, switched, stopped_at, lambda done, total: None)
    finally:
        await switched.dispose()
    return RebuildReport(
        replayed, caught_up, len(rebuilt), differing, time.monotonic() - started, retired
    )


async def rebuild_embedded(settings: KpiSettings, progress: Progress) -> RebuildReport:
    started = time.monotonic()
    live_path = Path(make_url(settings.state_store_url).database or "")
    fresh_path = live_path.with_suffix(".rebuild.sqlite3")
    fresh_path.unlink(missing_ok=True)
    fresh_url = f"sqlite+aiosqlite:///{fresh_path}"
    await asyncio.to_thread(upgrade_to_head, fresh_url)
    store = CaseStore(fresh_url)
    event_log = EventLog(settings.event_log_path)
    replayed = 0
    try:
        total = await event_log.end_offset()
        applier = RecordApplier(store, ConsumerStats())
        next_offset = 0
        while records := await event_log.read_from(next_offset, limit=1000):
            await applier.apply(
                [RawRecord(KafkaPosition(r.topic, 0, r.offset), r.value) for r in records]
            )
            next_offset = records[-1].offset + 1
            replayed += len(records)
            progress(replayed, total)
        rebuilt = await _figures(store, settings)
    finally:
        event_log.close()
        await store.dispose()
    differing = await _differing_from_live(rebuilt, settings)
    await carry_access(settings.state_store_url, fresh_url)
    retired = live_path.with_suffix(f".before-rebuild-{int(time.time())}.sqlite3")
    await asyncio.to_thread(_swap_files, live_path, fresh_path, retired)
    # the live consumer's position in the log carries on from where the rebuild stopped
    return RebuildReport(
        replayed, 0, len(rebuilt), differing, time.monotonic() - started, str(retired)
    )


async def _differing_from_live(rebuilt: Figures, settings: KpiSettings) -> int:
    live_store = CaseStore(settings.state_store_url)
    try:
        current = await _figures(live_store, settings)
    finally:
        await live_store.dispose()
    return _differing(rebuilt, current)


def _differing(rebuilt: Figures, current: Figures) -> int:
    differing = sum(
        1 for key in rebuilt.keys() | current.keys() if rebuilt.get(key) != current.get(key)
    )
    if differing:
        log.warning("%d figures differ from the live ones (events still arriving?)", differing)
    return differing


def _swap_files(live: Path, fresh: Path, retired: Path) -> None:
    if live.exists():
        live.rename(retired)
    fresh.rename(live)


async def rebuild(settings: KpiSettings, progress: Progress) -> RebuildReport:
    if settings.embedded:
        return await rebuild_embedded(settings, progress)
    return await rebuild_postgres(settings, progress)
