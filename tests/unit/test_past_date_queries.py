"""Past-date evaluations have limits (issue 10): one at a time, within a time budget, stopped
when the budget is spent or the client has gone, and never a cause for the live snapshot to
wait. The evaluation itself is the real one; only its speed is slowed down here."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import date
from typing import Any

import pytest

from kpi.adapters import snapshots
from kpi.adapters.snapshots import QueryRefusedError, SnapshotRefresher
from kpi.domain.calendar import england_calendar
from kpi.domain.council import CouncilConfig
from kpi.domain.evaluation import EvaluationStoppedError, evaluate
from kpi.domain.recompute import casebook_from_events
from tests.support.history import referral


def _refresher() -> SnapshotRefresher:
    refresher = SnapshotRefresher(
        store=None,  # type: ignore[arg-type]  # these tests never load from a store
        config=CouncilConfig(council="Test"),
        calendar=england_calendar(),
        interval_seconds=60,
        fixed_as_at=date(2025, 3, 31),
    )
    refresher.casebook = casebook_from_events([referral("K1", "R-1", "2025-03-03")])
    return refresher


class SlowEvaluation:
    """The real evaluation, after a wait that ends as soon as it is asked to stop."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.stopped = threading.Event()
        self.finished = threading.Event()

    def __call__(self, book: Any, ctx: Any, config: Any, should_stop: Any) -> Any:
        deadline = time.monotonic() + self.seconds
        try:
            while time.monotonic() < deadline:
                if should_stop():
                    self.stopped.set()
                    raise EvaluationStoppedError("asked to stop")
                time.sleep(0.01)
            return evaluate(book, ctx, config, should_stop)
        finally:
            self.finished.set()


async def test_a_query_over_its_budget_is_refused_and_its_work_stopped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow = SlowEvaluation(seconds=30)
    monkeypatch.setattr(snapshots, "evaluate", slow)
    refresher = _refresher()
    started = time.monotonic()
    with pytest.raises(QueryRefusedError):
        await refresher.evaluate_past(date(2025, 1, 31), budget_seconds=0.3)
    # refused after about its budget, and the work behind it has ended too
    assert time.monotonic() - started < 3
    assert slow.stopped.is_set()
    assert slow.finished.is_set()


async def test_a_query_whose_client_has_gone_is_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    slow = SlowEvaluation(seconds=30)
    monkeypatch.setattr(snapshots, "evaluate", slow)
    refresher = _refresher()
    polls = 0

    async def gone() -> bool:
        nonlocal polls
        polls += 1
        return polls >= 2

    with pytest.raises(QueryRefusedError):
        await refresher.evaluate_past(date(2025, 1, 31), budget_seconds=60, abandoned=gone)
    assert slow.stopped.is_set()


async def test_past_dates_are_evaluated_one_at_a_time_and_a_waiting_one_gives_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow = SlowEvaluation(seconds=1.0)
    monkeypatch.setattr(snapshots, "evaluate", slow)
    refresher = _refresher()
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
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    slow = SlowEvaluation(seconds=1.0)
    monkeypatch.setattr(snapshots, "evaluate", slow)
    refresher = _refresher()
    query = asyncio.create_task(refresher.evaluate_past(date(2025, 1, 31), budget_seconds=10))
    # the loop keeps ticking (health checks, scrapes, the consumer) while the thread works
    ticks = 0
    while not query.done():
        await asyncio.sleep(0.05)
        ticks += 1
    await query
    assert ticks >= 10
