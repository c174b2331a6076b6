"""Past dates without kept facts (issues 10 and 12): derived unit by unit from the store, equal
to a whole-book evaluation, one at a time, within a time budget, stopped when the budget is
spent or the client has gone, and never a cause for the event loop to wait. The store is the
embedded one (SQLite); the derivation is the real one, only slowed down here."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from casetime.events import EventEnvelope
from kpi.adapters import derivation, snapshots
from kpi.adapters.snapshots import QueryRefusedError, SnapshotRefresher
from kpi.adapters.store import CaseStore
from kpi.domain.calendar import england_calendar
from kpi.domain.casebook import RuleContext
from kpi.domain.council import CouncilConfig
from kpi.domain.evaluation import evaluate
from kpi.domain.recompute import casebook_from_events
from kpi.migrations import upgrade_to_head
from kpi.service import record_events, refold
from tests.support.history import comparable
from tests.unit.test_kpi_facts import synthetic_events

CONFIG = CouncilConfig(council="Test")
CHILDREN = 6


def history() -> list[EventEnvelope]:
    events = synthetic_events(seed=4, children_per_year=40)
    children = sorted({e.child_id for e in events})[:CHILDREN]
    return [e for e in events if e.child_id in children]


@pytest.fixture
async def refresher(tmp_path: Path) -> AsyncIterator[SnapshotRefresher]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'kpi.sqlite3'}"
    await asyncio.to_thread(upgrade_to_head, url)
    store = CaseStore(url)
    async with store.transaction() as repo:
        _, touched = await record_events(repo, [(e, None) for e in history()])
        await refold(repo, touched)
    # no kept facts: every date is derived unit by unit
    yield SnapshotRefresher(store, CONFIG, england_calendar(), 60, date(2025, 3, 31))
    await store.dispose()


class SlowDerivation:
    """The real derivation, one unit at a time, each after a wait."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
        self.seconds = seconds
        self.calls = 0
        self.finished = 0
        self._derive = derivation.derive
        monkeypatch.setattr(snapshots, "UNITS_PER_TRANSACTION", 1)
        monkeypatch.setattr(derivation, "derive", self)

    def __call__(self, rows: Mapping[str, Any], ctx: RuleContext) -> Any:
        self.calls += 1
        time.sleep(self.seconds)
        try:
            return self._derive(rows, ctx)
        finally:
            self.finished += 1


async def test_a_date_without_kept_facts_is_the_whole_book_evaluated(
    refresher: SnapshotRefresher,
) -> None:
    reference = casebook_from_events(history())
    for as_at in (date(2024, 9, 30), date(2025, 1, 31)):
        derived = await refresher.evaluate_past(as_at, budget_seconds=60, lists=True)
        ctx = RuleContext(as_at, england_calendar(), CONFIG.rule_settings())
        assert comparable(derived) == comparable(evaluate(reference, ctx, CONFIG))
        assert derived.breaches or derived.open_clocks  # the lists came with it


async def test_a_query_over_its_budget_is_refused_and_its_work_stopped(
    refresher: SnapshotRefresher, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = SlowDerivation(monkeypatch, seconds=0.2)
    started = time.monotonic()
    with pytest.raises(QueryRefusedError):
        await refresher.evaluate_past(date(2025, 1, 31), budget_seconds=0.3)
    # refused after about its budget, the units after it not derived
    assert time.monotonic() - started < 1.5
    assert slow.calls < CHILDREN
    calls = slow.calls
    await asyncio.sleep(0.5)
    assert (slow.calls, slow.finished) == (calls, calls)


async def test_a_query_whose_client_has_gone_is_stopped(
    refresher: SnapshotRefresher, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = SlowDerivation(monkeypatch, seconds=0.05)
    polls = 0

    async def gone() -> bool:
        nonlocal polls
        polls += 1
        return polls >= 2

    with pytest.raises(QueryRefusedError):
        await refresher.evaluate_past(date(2025, 1, 31), budget_seconds=60, abandoned=gone)
    assert slow.calls == 2


async def test_past_dates_are_evaluated_one_at_a_time_and_a_waiting_one_gives_up(
    refresher: SnapshotRefresher, monkeypatch: pytest.MonkeyPatch
) -> None:
    SlowDerivation(monkeypatch, seconds=0.15)
    first = asyncio.create_task(refresher.evaluate_past(date(2025, 1, 31), budget_seconds=10))
    await asyncio.sleep(0.1)
    # a second date waits for the first; with a budget shorter than that wait it is refused
    with pytest.raises(QueryRefusedError, match="another past-date evaluation"):
        await refresher.evaluate_past(date(2024, 12, 31), budget_seconds=0.2)
    result = await first
    assert result.as_at == date(2025, 1, 31)
    # and the answer is cached: asked again, it comes at once
    started = time.monotonic()
    again = await refresher.evaluate_past(date(2025, 1, 31), budget_seconds=0.01)
    assert again is result
    assert time.monotonic() - started < 0.5


async def test_the_event_loop_stays_free_while_a_past_date_is_evaluated(
    refresher: SnapshotRefresher, monkeypatch: pytest.MonkeyPatch
) -> None:
    SlowDerivation(monkeypatch, seconds=0.2)
    query = asyncio.create_task(refresher.evaluate_past(date(2025, 1, 31), budget_seconds=10))
    # the loop keeps ticking (health checks, scrapes, the consumer) while the units are derived
    ticks = 0
    while not query.done():
        await asyncio.sleep(0.05)
        ticks += 1
    await query
    assert ticks >= 10
