"""The record applier on the real PostgreSQL: whatever one record does, it is set aside with its
reason and position and the records around it are applied (issue 10); the consumer task that
fails unexpectedly says so at once and starts again."""

from __future__ import annotations

import asyncio
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from kpi.adapters import store as store_module
from kpi.adapters.consumer import ConsumerStats, EmbeddedEventSource, RawRecord, RecordApplier
from kpi.adapters.store import CaseStore
from kpi.service import KafkaPosition
from kpi.settings import KpiSettings
from tests.support.events import event_dict

pytestmark = pytest.mark.infra


def _record(offset: int, event_id: str) -> RawRecord:
    body = event_dict(
        "assessment_started",
        child_id=f"C-{event_id}",
        episode_id=f"ASMT-{event_id}",
        occurred_at="2025-02-03",
        payload={"referral_id": "REF-1"},
        event_id=event_id,
    )
    return RawRecord(KafkaPosition("casetime.assessments.v1", 0, offset), json.dumps(body).encode())


async def _rows(store: CaseStore, sql: str) -> list[Any]:
    async with store.engine.connect() as conn:
        return list((await conn.execute(text(sql))).all())


async def test_a_record_the_store_cannot_take_is_set_aside_and_the_others_are_applied(
    store: CaseStore, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    original = store_module._event_row

    def refuses_poison(event: Any, position: Any, body: str | None = None) -> dict[str, Any]:
        if event.event_id == "poison":
            raise OverflowError("date value out of range")
        return original(event, position, body)

    monkeypatch.setattr(store_module, "_event_row", refuses_poison)
    stats = ConsumerStats()
    records = [_record(10, "good-1"), _record(11, "poison"), _record(12, "good-2")]
    with caplog.at_level(logging.ERROR):
        dead = await RecordApplier(store, stats).apply(records)
    assert [(d.position.offset, d.reason) for d in dead] == [
        (11, "could not be applied: OverflowError('date value out of range')")
    ]
    # logged at once, with the event id
    logged = [r.getMessage() for r in caplog.records]
    assert any("poison" in m and "dead letter" in m for m in logged)
    stored = await _rows(store, "SELECT event_id FROM case_event ORDER BY event_id")
    assert [r[0] for r in stored] == ["good-1", "good-2"]
    letters = await _rows(store, "SELECT kafka_offset, reason FROM dead_letter")
    assert [(r[0], r[1].startswith("could not be applied")) for r in letters] == [(11, True)]
    assert (stats.applied["new"], stats.dead_letters) == (2, 1)


async def test_a_record_that_is_not_an_event_is_set_aside_in_the_same_batch(
    store: CaseStore,
) -> None:
    stats = ConsumerStats()
    year_one = json.loads(_record(2, "year-one").value or b"")
    year_one["recorded_at"] = "0001-01-01T00:00:00+14:00"
    records = [
        _record(1, "good-1"),
        RawRecord(KafkaPosition("t", 0, 2), json.dumps(year_one).encode()),
        RawRecord(KafkaPosition("t", 0, 3), b"\xff not json"),
        _record(4, "good-2"),
    ]
    dead = await RecordApplier(store, stats).apply(records)
    assert [d.position.offset for d in dead] == [2, 3]
    assert all(d.reason.startswith("invalid event") for d in dead)
    assert (stats.applied["new"], stats.dead_letters) == (2, 2)


async def test_a_consumer_that_fails_unexpectedly_is_logged_unready_and_started_again(
    store: CaseStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = KpiSettings(data_dir=tmp_path)
    source = EmbeddedEventSource(settings, store)
    calls = 0
    running_while_down: list[bool] = []

    async def fails_twice() -> None:
        nonlocal calls
        calls += 1
        running_while_down.append(source.stats.running)
        if calls <= 2:
            source.stats.running = True
            raise RuntimeError("a bug nobody foresaw")
        source.stats.running = True
        await source._stopping.wait()

    monkeypatch.setattr(source, "_consume", fails_twice)
    with caplog.at_level(logging.ERROR):
        await source.start()
        for _ in range(100):
            if calls >= 3:
                break
            await asyncio.sleep(0.1)
        await source.stop()
    assert calls == 3
    # down (not ready) between the failure and the restart
    assert running_while_down == [False, False, False]
    assert source.stats.unexpected_failures == 2
    assert [r.levelname for r in caplog.records if "unexpectedly" in r.getMessage()] == [
        "ERROR",
        "ERROR",
    ]
