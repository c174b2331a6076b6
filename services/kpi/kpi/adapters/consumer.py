"""Event sources for the KPI service: the Kafka consumer group, or the embedded event log.

Both hand batches to one RecordApplier: one database transaction records every event and folds
the episodes the batch touched, and only then is the position committed. A record that is not
a valid event is set aside as a dead letter; it never blocks the ones after it. A crash between
the commit and the position redelivers the batch, and the event store turns the redelivery
into duplicates.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.errors import KafkaError
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError

from casetime.eventlog import EventLog
from casetime.events import EventEnvelope, parse_event
from casetime.publishing import ensure_topics
from casetime.topics import dead_letter_topic, event_topics
from kpi.adapters.store import CaseStore, SqlCaseRepository
from kpi.service import (
    EpisodeKey,
    KafkaPosition,
    Recorded,
    record_events,
    refold,
    units_touched,
)
from kpi.settings import KpiSettings

log = logging.getLogger(__name__)


@dataclass
class ConsumerStats:
    """Read by /metrics and /readyz."""

    applied: dict[str, int] = field(default_factory=lambda: {r.value: 0 for r in Recorded})
    dead_letters: int = 0
    running: bool = False
    # events published but not yet applied, per topic and partition
    lag: dict[tuple[str, int], int] = field(default_factory=dict)
    last_applied_at: float | None = None  # Unix time of the last applied batch
    last_event_recorded_at: float | None = None  # recorded_at of the last applied event
    last_progress_monotonic: float = field(default_factory=time.monotonic)
    stalled: bool = False
    restarts_after_stall: int = 0
    unexpected_failures: int = 0
    # called after each committed batch: the facts keeper derives what it touched at once
    on_applied: Callable[[], None] = field(default=lambda: None, repr=False)

    @property
    def total_lag(self) -> int:
        return sum(self.lag.values())

    def progressed(self) -> None:
        self.last_progress_monotonic = time.monotonic()
        self.stalled = False


class ConsumerStalledError(Exception):
    """No progress while events wait: the consumer is rebuilt (aiokafka can stall after a
    broker restart or a rebalance)."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    position: KafkaPosition
    reason: str
    value: bytes | None


@dataclass(frozen=True, slots=True)
class RawRecord:
    position: KafkaPosition
    value: bytes | None


class RecordApplier:
    def __init__(self, store: CaseStore, stats: ConsumerStats) -> None:
        self._store = store
        self.stats = stats

    async def apply(self, records: Sequence[RawRecord]) -> list[DeadLetter]:
        """Apply in one transaction; return the records set aside as dead letters.

        Each event is deduped and stored as it comes; the episodes the batch touched are folded
        once, at the end of the batch. When the batch fails for a reason that is not the
        database being unreachable, its records are applied one by one, so that the one that
        cannot be applied is set aside with its reason and the rest go on."""
        try:
            return await self._apply_together(records)
        except Exception as exc:
            if is_transient(exc):
                raise  # the database is down or the transaction is gone: retry the batch
            log.exception("a batch of %d failed; applying its records one by one", len(records))
        dead: list[DeadLetter] = []
        for record in records:
            try:
                dead.extend(await self._apply_together([record]))
            except Exception as exc:
                if is_transient(exc):
                    raise
                reason = f"could not be applied: {exc!r}"
                log.error(
                    "dead letter at %s (event %s): %s", record.position, _event_id(record), reason
                )
                async with self._store.transaction() as repo:
                    await repo.record_dead_letter(record.position, reason, record.value)
                dead.append(DeadLetter(record.position, reason, record.value))
                self.stats.dead_letters += 1
        return dead

    async def _apply_together(self, records: Sequence[RawRecord]) -> list[DeadLetter]:
        dead: list[DeadLetter] = []
        last_recorded = None
        async with self._store.transaction() as repo:
            valid: list[tuple[EventEnvelope, KafkaPosition | None]] = []
            for record in records:
                try:
                    event = parse_event(record.value or b"")
                    valid.append((event, record.position))
                    # valid JSON, so valid UTF-8
                    repo.received(event, (record.value or b"").decode())
                except ValidationError as exc:
                    # Ingest validated it, so this is a contract mismatch: keep it, don't block.
                    reason = f"invalid event: {exc}"
                    await repo.record_dead_letter(record.position, reason, record.value)
                    dead.append(DeadLetter(record.position, reason, record.value))
                    log.error(
                        "dead letter at %s (event %s): not a valid event",
                        record.position,
                        _event_id(record),
                    )
            statuses, touched = await record_events(repo, valid)
            if valid:
                last_recorded = valid[-1][0].recorded_at.timestamp()
            await self._refold(repo, touched)
            await repo.facts.mark_dirty(units_touched(touched))
        # counted only once the transaction committed
        for status in statuses:
            self.stats.applied[status.value] += 1
        self.stats.dead_letters += len(dead)
        self.stats.last_applied_at = time.time()
        if last_recorded is not None:
            self.stats.last_event_recorded_at = last_recorded
        self.stats.progressed()
        self.stats.on_applied()
        return dead

    async def _refold(self, repo: SqlCaseRepository, keys: Collection[EpisodeKey]) -> None:
        try:
            await refold(repo, keys)
        except SQLAlchemyError:
            raise  # the database is down or the transaction is gone: retry the batch
        except Exception:
            # A broken invariant in some episode: fold the others, keep the rest as they were.
            log.exception("folding the batch's episodes failed; folding them one by one")
            for key in sorted(keys):
                try:
                    await refold(repo, {key})
                except SQLAlchemyError:
                    raise
                except Exception as exc:
                    log.exception("episode %s could not be folded; its state is unchanged", key)
                    position = KafkaPosition(f"episode:{key[0]}", 0, 0)
                    await repo.record_dead_letter(position, f"fold failed: {exc!r}", None)


def is_transient(exc: BaseException) -> bool:
    """The database or the network is unavailable: worth retrying the whole batch, unlike a
    record the store refuses (a value it cannot hold, say)."""
    if isinstance(exc, (OSError, TimeoutError, OperationalError, InterfaceError)):
        return True
    return isinstance(exc, DBAPIError) and exc.connection_invalidated


def _event_id(record: RawRecord) -> str:
    """The event id of a raw record, for logs, if it has one."""
    try:
        body = json.loads(record.value or b"")
    except (ValueError, RecursionError):
        return "unreadable"
    event_id = body.get("event_id") if isinstance(body, dict) else None
    return str(event_id)[:128] if event_id is not None else "none"


class EventSource(Protocol):
    stats: ConsumerStats

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class _Looping:
    """Runs ``_consume`` until stopped, reconnecting with back-off when it fails."""

    failures: tuple[type[BaseException], ...] = (OSError, SQLAlchemyError, ConsumerStalledError)

    def __init__(self, settings: KpiSettings, store: CaseStore) -> None:
        self._stall_seconds = settings.consumer_stall_seconds
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
                if isinstance(exc, ConsumerStalledError):
                    self.stats.restarts_after_stall += 1
                log.warning("event source failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
            except Exception:
                # Never let the task die quietly: say so now, fail readiness, start again.
                self.stats.running = False
                self.stats.unexpected_failures += 1
                log.exception("event source failed unexpectedly; restarting in %.1fs", delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    async def _consume(self) -> None:
        raise NotImplementedError

    def _check_progress(self) -> None:
        """Caught up counts as progress; waiting events with no progress for too long is a stall."""
        if self.stats.total_lag == 0:
            self.stats.progressed()
            return
        idle = time.monotonic() - self.stats.last_progress_monotonic
        if idle > self._stall_seconds:
            self.stats.stalled = True
            log.error(
                "consumer stalled: %d events waiting, no progress for %.0fs; restarting it",
                self.stats.total_lag,
                idle,
            )
            raise ConsumerStalledError(f"no progress for {idle:.0f}s")


async def _send_dead_letters(
    producer: AIOKafkaProducer, topic: str, dead: Sequence[DeadLetter]
) -> None:
    """Each dead letter to the dead-letter topic, with where it came from and why."""
    for letter in dead:
        await producer.send_and_wait(
            topic,
            value=letter.value or b"",
            headers=[
                ("reason", letter.reason[:2000].encode()),
                ("topic", letter.position.topic.encode()),
                ("partition", str(letter.position.partition).encode()),
                ("offset", str(letter.position.offset).encode()),
            ],
        )


class KafkaEventSource(_Looping):
    failures = (KafkaError, OSError, SQLAlchemyError, ConsumerStalledError)
    LAG_CHECK_SECONDS = 2.0

    async def _consume(self) -> None:
        topics = event_topics(self._settings.topic_prefix)
        dead_letter_to = dead_letter_topic(self._settings.topic_prefix)
        await ensure_topics(self._settings, (*topics, dead_letter_to))
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
        producer = AIOKafkaProducer(
            bootstrap_servers=self._settings.kafka_bootstrap_servers,
            acks="all",
            enable_idempotence=True,
            client_id="casetime-kpi-dead-letters",
        )
        await consumer.start()
        await producer.start()
        self.stats.running = True
        self.stats.progressed()
        log.info("consuming %s as group %s", topics, self._settings.consumer_group)
        next_lag_check = 0.0
        try:
            while not self._stopping.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=500)
                # every partition's records in one transaction: a few round trips per batch,
                # not per partition (each partition's records stay in their order)
                records = [
                    RawRecord(KafkaPosition(r.topic, r.partition, r.offset), r.value)
                    for rs in batches.values()
                    for r in rs
                ]
                if records:
                    dead = await self._applier.apply(records)
                    await _send_dead_letters(producer, dead_letter_to, dead)
                    await consumer.commit(
                        {tp: rs[-1].offset + 1 for tp, rs in batches.items() if rs}
                    )
                if time.monotonic() >= next_lag_check:
                    next_lag_check = time.monotonic() + self.LAG_CHECK_SECONDS
                    await self._measure_lag(consumer)
                    self._check_progress()
        finally:
            self.stats.running = False
            with contextlib.suppress(Exception):
                await producer.stop()
            with contextlib.suppress(Exception):
                await consumer.stop()

    async def _measure_lag(self, consumer: AIOKafkaConsumer) -> None:
        """A fresh request for the end offsets, not the fetcher's cached high-water marks (a
        stalled fetcher stops updating those)."""
        assigned = list(consumer.assignment())
        if not assigned:
            return
        ends = await consumer.end_offsets(assigned)
        lag = {}
        for tp in assigned:
            committed = await consumer.committed(tp)
            lag[(tp.topic, tp.partition)] = max(ends[tp] - (committed or 0), 0)
        self.stats.lag = lag


class EmbeddedEventSource(_Looping):
    async def _consume(self) -> None:
        event_log = EventLog(self._settings.event_log_path)
        group = self._settings.consumer_group
        self.stats.running = True
        log.info("consuming the embedded event log %s", event_log.path)
        try:
            while not self._stopping.is_set():
                records = await event_log.read(group, limit=500)
                if records:
                    await self._applier.apply(
                        [RawRecord(KafkaPosition(r.topic, 0, r.offset), r.value) for r in records]
                    )
                    await event_log.commit(group, records[-1].offset + 1)
                end, committed = await event_log.end_offset(), await event_log.committed(group)
                # offsets run from 1: committed is the next offset to read
                self.stats.lag = {("embedded", 0): max(end - max(committed, 1) + 1, 0)}
                self._check_progress()
                if not records:
                    await asyncio.sleep(0.2)
        finally:
            self.stats.running = False
            event_log.close()


def event_source(settings: KpiSettings, store: CaseStore) -> EventSource:
    if settings.embedded:
        return EmbeddedEventSource(settings, store)
    return KafkaEventSource(settings, store)
