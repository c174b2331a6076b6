"""Duplicates, reordering across topics and poison messages: nothing lost, nothing counted twice,
and a poison message never blocks the events behind it on its partition."""

from __future__ import annotations

import asyncio
import functools
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from casetime.topics import dead_letter_topic, topic_for
from tests.faults.conftest import MakeSystem
from tests.faults.harness import (
    Event,
    Ledger,
    assert_figures_match_recomputation,
    batches_for,
    child_story,
    metric,
    outcomes,
    post_until_accepted,
    query,
    service_for,
    wait_until_applied,
)
from tests.support.credentials import AUTH

pytestmark = [pytest.mark.infra]

COPIES = 4  # each duplicated event is posted this many times, over two instances


async def produce(bootstrap: str, topic: str, key: bytes, values: list[bytes | None]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value=value, key=key)
    finally:
        await producer.stop()


async def produce_poison(bootstrap: str, topic: str, key: bytes) -> list[bytes | None]:
    """Written straight onto an event topic, bypassing ingest's validation: bytes that are not
    UTF-8, valid JSON of an unknown schema version, broken JSON and a null value (tombstone)."""
    unknown_version = json.dumps(
        {**child_story("poison", 0)[0], "schema_version": 99, "event_id": "poison-v99"}
    ).encode()
    poison: list[bytes | None] = [b"\xff garbage \xfe", unknown_version, b"{not json", None]
    await produce(bootstrap, topic, key, poison)
    return poison


async def read_dead_letters(
    bootstrap: str, topic: str, count: int
) -> list[tuple[bytes, dict[str, bytes]]]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"faults-dl-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    got: list[tuple[bytes, dict[str, bytes]]] = []
    try:
        deadline = time.monotonic() + 30
        while len(got) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=1000)
            for records in batches.values():
                got.extend((r.value or b"", dict(r.headers)) for r in records)
    finally:
        await consumer.stop()
    return got


def test_duplicates_reordering_and_poison_lose_nothing_and_count_nothing_twice(
    make_system: MakeSystem,
) -> None:
    started = time.monotonic()
    system = make_system()
    system.add_ingest("referrals").wait_ready()  # a second instance of the same service
    run = uuid.uuid4().hex[:6]
    ledger = Ledger()
    stories = [child_story(run, n) for n in range(10)]
    deadline = time.monotonic() + 120

    with httpx.Client(timeout=30, auth=AUTH) as client:

        def post(service: str, events: list[Event]) -> None:
            post_until_accepted(client, lambda: system.urls(service), events, ledger, deadline)

        # Reordering across topics: children 0-3 post placements first (their voids, before the
        # events they withdraw), then assessments (completions before their referrals), then
        # referrals; the others post in story order.
        reordered, in_order = stories[:4], stories[4:]
        for story in reordered:
            for service in ("placements", "assessments", "referrals"):
                post(service, [e for e in story if service_for(e) == service])
        for service, events in batches_for(in_order, 10):
            post(service, events)

        # Duplicates: every referral event of children 4-5 posted COPIES times more, concurrently,
        # alternating between the two referrals instances; and a stale revision (revision 1
        # after the amended revision 2) of child 6's assessment completion, twice.
        duplicated = [e for s in stories[4:6] for e in s if service_for(e) == "referrals"]
        urls = system.urls("referrals")
        assert len(urls) == 2
        with ThreadPoolExecutor(max_workers=4) as pool:
            futures = [
                pool.submit(
                    post_until_accepted,
                    client,
                    functools.partial(list, [urls[i % 2]]),
                    [event],
                    ledger,
                    deadline,
                )
                for i in range(COPIES)
                for event in duplicated
            ]
            for future in futures:
                future.result()
        stale = [
            e
            for e in stories[6]
            if e["event_type"] == "assessment_completed" and e.get("revision", 1) == 1
        ]
        assert len(stale) == 1
        post("assessments", stale)
        post("assessments", stale)

        # Poison straight onto the referrals topic, keyed by a child whose events follow it on
        # the same partition.
        late_child = child_story(run, 90)
        key = late_child[0]["child_id"].encode()
        poison = asyncio.run(
            produce_poison(system.kafka_bootstrap, topic_for("referrals", system.topic_prefix), key)
        )
        for service, events in batches_for([late_child], 10):
            post(service, events)

    waited = wait_until_applied(system, ledger)
    nonzero = assert_figures_match_recomputation(system, ledger)

    # Every accepted event id is in the store once, as its latest accepted revision (checked by
    # wait_until_applied), and the consumer's counts account for every accepted post.
    counted = outcomes(system.kpi_url)
    accepted_posts = len(ledger.accepted)
    distinct = len(ledger.accepted_ids)
    amendments = sum(1 for e in ledger.accepted if e.get("revision", 1) == 2)
    duplicates_posted = COPIES * len(duplicated)
    statuses = ledger.statuses()
    dead_rows = query(
        system.database_url, "SELECT kafka_topic, kafka_offset, reason FROM dead_letter"
    )
    dead_metric = metric(system.kpi_url, "casetime_kpi_dead_letters_total")
    letters = asyncio.run(
        read_dead_letters(system.kafka_bootstrap, dead_letter_topic(system.topic_prefix), 4)
    )
    print(
        f"\n[duplicates/reorder/poison] accepted posts {accepted_posts}, distinct ids {distinct},"
        f" duplicate posts {duplicates_posted}, stale posts 2, amendments {amendments},"
        f" outcomes {counted}, poison {len(poison)}, dead-letter rows {len(dead_rows)},"
        f" dead-letter metric {dead_metric}, dead-letter topic {len(letters)}, statuses"
        f" {dict(statuses)}, non-zero figures {nonzero}, applied in {waited:.1f}s after the"
        f" last post, test {time.monotonic() - started:.1f}s"
    )
    assert statuses.keys() == {202}
    assert sum(counted.values()) == accepted_posts
    assert counted["new"] == distinct
    assert counted["duplicate"] == duplicates_posted
    assert counted["stale"] == 2
    assert counted["replaced"] == amendments

    # Poison: in the table and on the dead-letter topic with its reason, counted once each.
    assert len(dead_rows) == len(poison)
    assert dead_metric == len(poison)
    assert all(r["reason"].startswith("invalid event") for r in dead_rows)
    assert len(letters) == len(poison)
    assert sorted(v for v, _ in letters) == sorted(p or b"" for p in poison)
    for _, headers in letters:
        assert headers["reason"].startswith(b"invalid event"), headers
        assert headers["topic"] == topic_for("referrals", system.topic_prefix).encode()
    # ...and the partition was not blocked: the child behind the poison is fully applied.
    held = {r["event_id"] for r in query(system.database_url, "SELECT event_id FROM case_event")}
    assert {e["event_id"] for e in late_child} <= held


def test_a_poison_message_with_a_nul_byte_does_not_block_its_partition(
    make_system: MakeSystem,
) -> None:
    """Garbage containing a NUL byte (0x00) is just as much a poison message as any other: it
    must be dead-lettered and the events behind it applied."""
    system = make_system()
    run = uuid.uuid4().hex[:6]
    ledger = Ledger()
    story = child_story(run, 1)
    key = story[0]["child_id"].encode()
    poison = b"\x00\x01 binary garbage"
    asyncio.run(
        produce(system.kafka_bootstrap, topic_for("referrals", system.topic_prefix), key, [poison])
    )
    with httpx.Client(timeout=30, auth=AUTH) as client:
        for service, events in batches_for([story], 10):
            post_until_accepted(
                client,
                functools.partial(system.urls, service),
                events,
                ledger,
                time.monotonic() + 60,
            )
    try:
        wait_until_applied(system, ledger, timeout=20)
    finally:
        dead_rows = query(system.database_url, "SELECT reason FROM dead_letter")
        held = query(system.database_url, "SELECT count(*) AS n FROM case_event")[0]["n"]
        print(
            f"\n[NUL poison] accepted {len(ledger.accepted)}, applied {held},"
            f" dead-letter rows {len(dead_rows)},"
            f" consumer up {metric(system.kpi_url, 'casetime_kpi_consumer_up')}"
        )
    assert len(dead_rows) == 1
    assert metric(system.kpi_url, "casetime_kpi_dead_letters_total") == 1
