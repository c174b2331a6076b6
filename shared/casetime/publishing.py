"""The publisher port, and its Kafka adapter.

An ingest service answers 2xx only after the broker acknowledged every event (acks=all, with the
idempotent producer so a retried send is written once). Events are keyed by child id, so one
child's events stay in order within a topic.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from typing import Protocol

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    TopicAlreadyExistsError,
    UnknownProducerId,
)

from casetime.events import EventEnvelope
from casetime.settings import KafkaSettings

log = logging.getLogger(__name__)

# After one of these an idempotent aiokafka producer refuses every later send (its sender task has
# ended; aio-libs/aiokafka#1017), typically when a broker comes back from a restart. Only a new
# producer, with a new producer id, recovers; a resent event is then dropped as a duplicate by the
# KPI service's event-id check.
FATAL_TO_PRODUCER = (
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
    InvalidProducerEpoch,
)


class PublishUnavailableError(Exception):
    """The event log could not acknowledge the events; nothing may be reported as accepted."""


class EventPublisher(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def ready(self) -> bool: ...

    async def publish(self, topic: str, events: Sequence[EventEnvelope]) -> None:
        """Return only once every event is durably written; else raise PublishUnavailableError."""
        ...


def encode(event: EventEnvelope) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    headers = [
        ("event_type", event.event_type.encode()),
        ("schema_version", str(event.schema_version).encode()),
        ("content-type", b"application/json"),
    ]
    return event.child_id.encode(), event.model_dump_json().encode(), headers


async def ensure_topics(settings: KafkaSettings, topics: Sequence[str]) -> None:
    """Create the topics if missing (idempotent), with retention set on purpose."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [t for t in topics if t not in existing]
        if not missing:
            return
        new = [
            NewTopic(
                name=t,
                num_partitions=settings.kafka_topic_partitions,
                replication_factor=settings.kafka_replication_factor,
                topic_configs={"retention.ms": str(settings.kafka_retention_ms)},
            )
            for t in missing
        ]
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(new)
        log.info("created topics %s", missing)
    finally:
        await admin.close()


class KafkaPublisher:
    """Connects in the background and keeps retrying, so the service starts while Kafka is down
    and reports itself not ready (503) instead of failing."""

    def __init__(self, settings: KafkaSettings, topics: Sequence[str]) -> None:
        if settings.kafka_bootstrap_servers is None:
            raise ValueError("KafkaPublisher needs CASETIME_KAFKA_BOOTSTRAP_SERVERS")
        self._bootstrap = settings.kafka_bootstrap_servers
        self._settings = settings
        self._topics = tuple(topics)
        self._producer: AIOKafkaProducer | None = None
        self._connector: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._connector = asyncio.create_task(self._connect_forever(), name="kafka-connect")

    def _replace(self, broken: AIOKafkaProducer, exc: KafkaError) -> None:
        """Drop a producer that can no longer send and connect a new one in the background; until
        it is connected the service is not ready and posts get 503."""
        if self._producer is not broken:
            return  # another request's failure already replaced it
        log.warning("Kafka producer can no longer send (%r); replacing it", exc)
        self._producer = None
        self._connector = asyncio.create_task(self._reconnect(broken), name="kafka-reconnect")

    async def _reconnect(self, broken: AIOKafkaProducer) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(broken.stop(), timeout=5.0)
        await self._connect_forever()

    async def _connect_forever(self) -> None:
        delay = 0.5
        while True:
            producer = AIOKafkaProducer(
                bootstrap_servers=self._bootstrap,
                acks="all",
                enable_idempotence=True,
                linger_ms=5,
                request_timeout_ms=self._settings.kafka_request_timeout_ms,
                client_id="casetime-ingest",
            )
            try:
                await ensure_topics(self._settings, self._topics)
                await producer.start()
            except (KafkaError, OSError) as exc:
                with contextlib.suppress(Exception):
                    await producer.stop()
                log.warning("Kafka not reachable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10.0)
                continue
            self._producer = producer
            log.info("connected to Kafka at %s", self._bootstrap)
            return

    async def stop(self) -> None:
        if self._connector is not None and not self._connector.done():
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
        if self._producer is not None:
            # flushes anything in flight before closing
            await self._producer.stop()
            self._producer = None

    async def ready(self) -> bool:
        producer = self._producer
        if producer is None:
            return False
        try:
            return bool(
                await asyncio.wait_for(producer.client.force_metadata_update(), timeout=2.0)
            )
        except (TimeoutError, KafkaError, OSError):
            return False

    async def publish(self, topic: str, events: Sequence[EventEnvelope]) -> None:
        producer = self._producer
        if producer is None:
            raise PublishUnavailableError("not connected to Kafka")

        async def deliver() -> None:
            deliveries = []
            for event in events:
                key, value, headers = encode(event)
                deliveries.append(await producer.send(topic, value=value, key=key, headers=headers))
            await asyncio.gather(*deliveries)

        try:
            # aiokafka keeps waiting while a single broker is down (its cached metadata still
            # names a leader): bound the wait, so the sender gets a 503, not a hung request.
            await asyncio.wait_for(deliver(), self._settings.kafka_request_timeout_ms / 1000)
        except TimeoutError as exc:
            raise PublishUnavailableError("Kafka did not acknowledge in time") from exc
        except FATAL_TO_PRODUCER as exc:
            self._replace(producer, exc)
            raise PublishUnavailableError(str(exc)) from exc
        except (KafkaError, OSError) as exc:
            raise PublishUnavailableError(str(exc)) from exc
