"""The Kafka consumer adapter: a consumer group over every event topic.

Per fetched batch and partition: one database transaction applies every record (each in a
savepoint, so one bad record cannot undo the others), then the offsets are committed. A crash
between the two redelivers the batch, and the event store turns the redelivery into duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.errors import KafkaError
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

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


class KpiConsumer:
    def __init__(self, settings: KpiSettings, store: CaseStore) -> None:
        self._settings = settings
        self._store = store
        self.stats = ConsumerStats()
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
            except (KafkaError, OSError) as exc:
                self.stats.running = False
                log.warning("consumer lost Kafka (%s); reconnecting in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)

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
                    await self._apply(records)
                    await consumer.commit({partition: records[-1].offset + 1})
                self.stats.last_batch_monotonic = time.monotonic()
        finally:
            self.stats.running = False
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _apply(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        async with self._store.transaction() as repo:
            for record in records:
                position = KafkaPosition(record.topic, record.partition, record.offset)
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
