"""Event sources for the KPI service: the Kafka consumer group, or the embedded event log.

Both hand batches to one RecordApplier: one database transaction applies every record (each in
a savepoint, so one bad record cannot undo the others), and only then is the position
committed. A crash between the two redelivers the batch, and the event store turns the
redelivery into duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from casetime.eventlog import EventLog
from casetime.events import parse_event
from casetime.publishing import ensure_topics
from casetime.topics import event_topics
from kpi.adapters.store import CaseStore
from kpi.service import KafkaPosition, Recorded, apply_event
from kpi.settings import KpiSettings

log = logging.getLogger(__name__)


@dataclass
class ConsumerStats:
    """Read by /metrics and /readyz."""

    applied: dict[str, int] = field(default_factory=lambda: {r.value: 0 for r in Recorded})
    dead_letters: int = 0
    last_batch_monotonic: float | None = None
    running: bool = False


@dataclass(frozen=True, slots=True)
class RawRecord:
    position: KafkaPosition
    value: bytes | None


class RecordApplier:
    def __init__(self, store: CaseStore, stats: ConsumerStats) -> None:
        self._store = store
        self.stats = stats

    async def apply(self, records: Sequence[RawRecord]) -> None:
        async with self._store.transaction() as repo:
            for record in records:
                position = record.position
                try:
                    event = parse_event(record.value or b"")
                except ValidationError as exc:
                    # Ingest validated it, so this is a contract mismatch: keep it, don't block.
                    await repo.record_dead_letter(position, f"invalid event: {exc}", record.value)
                    self.stats.dead_letters += 1
                    log.error("dead letter at %s: not a valid event", position)
                    continue
                try:
                    async with repo.savepoint():
                        status = await apply_event(repo, event, position)
                except SQLAlchemyError:
                    raise  # the database is down or the transaction is gone: retry the batch
                except Exception as exc:
                    # A broken invariant in this one event: keep it, don't block the partition.
                    await repo.record_dead_letter(
                        position, f"not applicable: {exc!r}", record.value
                    )
                    self.stats.dead_letters += 1
                    log.exception("dead letter at %s: could not be applied", position)
                    continue
                self.stats.applied[status.value] += 1
        self.stats.last_batch_monotonic = time.monotonic()


class EventSource(Protocol):
    stats: ConsumerStats

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class _Looping:
    """Runs ``_consume`` until stopped, reconnecting with back-off when it fails."""

    failures: tuple[type[BaseException], ...] = (OSError, SQLAlchemyError)

    def __init__(self, settings: KpiSettings, store: CaseStore) -> None:
        self._settings = settings
        self.stats = ConsumerStats()
        self._applier = RecordApplier(store, self.stats)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run_forever(), name="kpi-consumer")

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            try:
                await asyncio.wait_for(self._task, timeout=30)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task

    async def _run_forever(self) -> None:
        delay = 0.5
        while not self._stopping.is_set():
            try:
                await self._consume()
                delay = 0.5
            except self.failures as exc:
                self.stats.running = False
                log.warning("event source failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

    async def _consume(self) -> None:
        raise NotImplementedError


class KafkaEventSource(_Looping):
    failures = (KafkaError, OSError, SQLAlchemyError)

    async def _consume(self) -> None:
        topics = event_topics(self._settings.topic_prefix)
        await ensure_topics(self._settings, topics)
        consumer = AIOKafkaConsumer(
            *topics,
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            group_id=self._settings.consumer_group,
            client_id="casetime-kpi",
            enable_auto_commit=False,
            # a new group reads every event ever published: KPIs need the whole history
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            session_timeout_ms=self._settings.kafka_session_timeout_ms,
            heartbeat_interval_ms=max(self._settings.kafka_session_timeout_ms // 4, 500),
            max_poll_records=500,
        )
        await consumer.start()
        self.stats.running = True
        log.info("consuming %s as group %s", topics, self._settings.consumer_group)
        try:
            while not self._stopping.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=500)
                for partition, records in batches.items():
                    await self._applier.apply(
                        [
                            RawRecord(KafkaPosition(r.topic, r.partition, r.offset), r.value)
                            for r in records
                        ]
                    )
                    await consumer.commit({partition: records[-1].offset + 1})
        finally:
            self.stats.running = False
            with contextlib.suppress(Exception):
                await consumer.stop()


class EmbeddedEventSource(_Looping):
    async def _consume(self) -> None:
        event_log = EventLog(self._settings.event_log_path)
        group = self._settings.consumer_group
        self.stats.running = True
        log.info("consuming the embedded event log %s", event_log.path)
        try:
            while not self._stopping.is_set():
                records = await event_log.read(group, limit=500)
                if not records:
                    await asyncio.sleep(0.2)
                    continue
                await self._applier.apply(
                    [RawRecord(KafkaPosition(r.topic, 0, r.offset), r.value) for r in records]
                )
                await event_log.commit(group, records[-1].offset + 1)
        finally:
            self.stats.running = False
            event_log.close()


def event_source(settings: KpiSettings, store: CaseStore) -> EventSource:
    if settings.embedded:
        return EmbeddedEventSource(settings, store)
    return KafkaEventSource(settings, store)
