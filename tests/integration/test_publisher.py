"""The ingest publisher against the real broker: a producer that can no longer send is replaced.

After a broker restart an idempotent aiokafka producer can end its sender task with
OutOfOrderSequenceNumber and then refuse every send for ever (aio-libs/aiokafka#1017). Seen in the
Kafka-restart fault test: every post answered 503 long after the broker was back. The failure
itself cannot be provoked on demand, so the test makes the live producer's next send raise it.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import OutOfOrderSequenceNumber

from casetime.events import EventEnvelope, parse_event
from casetime.examples import example_event
from casetime.publishing import KafkaPublisher, PublishUnavailableError
from casetime.settings import KafkaSettings

pytestmark = [pytest.mark.infra]


def a_contact() -> EventEnvelope:
    return parse_event(
        json.dumps({**example_event("contact_received"), "event_id": uuid.uuid4().hex})
    )


async def until_ready(publisher: KafkaPublisher, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not await publisher.ready():
        assert time.monotonic() < deadline, "publisher not ready"
        await asyncio.sleep(0.2)


async def event_ids_on(bootstrap: str, topic: str, expected: int) -> list[str]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        seen: list[str] = []
        deadline = time.monotonic() + 30
        while len(seen) < expected and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=500)).values():
                seen.extend(json.loads(r.value)["event_id"] for r in records if r.value)
        return seen
    finally:
        await consumer.stop()


async def test_a_producer_that_can_no_longer_send_is_replaced(kafka_bootstrap: str) -> None:
    topic = f"casetime-test-{uuid.uuid4().hex[:8]}.referrals.v1"
    settings = KafkaSettings(kafka_bootstrap_servers=kafka_bootstrap, kafka_topic_partitions=1)
    publisher = KafkaPublisher(settings, [topic])
    await publisher.start()
    try:
        await until_ready(publisher)
        first = a_contact()
        await publisher.publish(topic, [first])

        broken = publisher._producer
        assert broken is not None

        async def fails(*args: Any, **kwargs: Any) -> Any:
            raise OutOfOrderSequenceNumber()

        broken.send = fails
        lost = a_contact()
        with pytest.raises(PublishUnavailableError):
            await publisher.publish(topic, [lost])
        # not ready from the moment it fails, so a load balancer sends posts elsewhere
        assert publisher._producer is None
        assert not await publisher.ready()

        await until_ready(publisher)
        assert publisher._producer is not broken
        # the sender retries what got a 503; the new producer writes it
        await publisher.publish(topic, [lost])
        assert await event_ids_on(kafka_bootstrap, topic, 2) == [first.event_id, lost.event_id]
    finally:
        await publisher.stop()
