"""Keeps the KPI evaluation fresh in the background; /metrics and the query API read it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime

from casetime.events import LONDON
from kpi.adapters.store import CaseStore
from kpi.domain.calendar import WorkingDayCalendar
from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.council import CouncilConfig
from kpi.domain.evaluation import Evaluation, EvaluationStoppedError, evaluate

log = logging.getLogger(__name__)
CACHED_EVALUATIONS = 32
# this many failed refreshes in a row and /readyz fails: the figures have stopped moving
FAILURES_BEFORE_UNREADY = 3


@dataclass
class RefreshHealth:
    failures: int = 0
    failures_in_a_row: int = 0

    @property
    def healthy(self) -> bool:
        return self.failures_in_a_row < FAILURES_BEFORE_UNREADY


class QueryRefusedError(Exception):
    """A past-date evaluation was not run or not finished: too busy, too slow, or abandoned."""


CATCHING_UP_EVENTS = 5_000
CATCHING_UP_PAUSE_SECONDS = 30.0


async def _never() -> bool:
    return False


class SnapshotRefresher:
    def __init__(
        self,
        store: CaseStore,
        config: CouncilConfig,
        calendar: WorkingDayCalendar,
        interval_seconds: float,
        fixed_as_at: date | None = None,
        backlog: Callable[[], int] = lambda: 0,
    ) -> None:
        self._store = store
        self.config = config
        self._calendar = calendar
        self._interval = interval_seconds
        self._fixed_as_at = fixed_as_at
        self._backlog = backlog
        self.casebook: CaseBook | None = None
        self.snapshot: Evaluation | None = None
        self.refreshed_at: float | None = None
        self.refresh_seconds: float | None = None
        # evaluations of the current case book at other dates (past months, previous periods)
        self._cache: OrderedDict[date, Evaluation] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self.health = RefreshHealth()
        # past-date evaluations, one at a time, so that they never crowd out the live snapshot
        self._past_dates = asyncio.Semaphore(1)

    def as_at(self) -> date:
        return self._fixed_as_at or datetime.now(LONDON).date()

    def context(self, as_at: date) -> RuleContext:
        return RuleContext(as_at, self._calendar, self.config.rule_settings())

    def cached(self, as_at: date) -> Evaluation | None:
        if self.snapshot is not None and as_at == self.snapshot.as_at:
            return self.snapshot
        if as_at in self._cache:
            self._cache.move_to_end(as_at)
            return self._cache[as_at]
        return None

    def evaluate_at(
        self, as_at: date, should_stop: Callable[[], bool] = lambda: False
    ) -> Evaluation:
        """An evaluation of the last loaded case book as at any date (cached). Blocking."""
        if self.casebook is None:
            raise LookupError("no case book loaded yet")
        found = self.cached(as_at)
        if found is not None:
            return found
        evaluation = evaluate(self.casebook, self.context(as_at), self.config, should_stop)
        self._cache[as_at] = evaluation
        while len(self._cache) > CACHED_EVALUATIONS:
            self._cache.popitem(last=False)
        return evaluation

    async def evaluate_past(
        self,
        as_at: date,
        budget_seconds: float,
        abandoned: Callable[[], Awaitable[bool]] = _never,
    ) -> Evaluation:
        """``evaluate_at`` off the event loop, one at a time, within a time budget; stopped as
        soon as the budget is spent or ``abandoned`` says the client has gone."""
        found = self.cached(as_at)
        if found is not None:
            return found
        deadline = time.monotonic() + budget_seconds
        stop = threading.Event()
        try:
            await asyncio.wait_for(self._past_dates.acquire(), timeout=budget_seconds)
        except TimeoutError:
            raise QueryRefusedError("another past-date evaluation is running") from None
        try:
            work = asyncio.ensure_future(asyncio.to_thread(self.evaluate_at, as_at, stop.is_set))
            while not work.done():
                await asyncio.wait({work}, timeout=0.25)
                if work.done():
                    break
                if time.monotonic() > deadline or await abandoned():
                    stop.set()
                    with contextlib.suppress(EvaluationStoppedError):
                        await work
                    raise QueryRefusedError("the evaluation ran out of time or was abandoned")
            return work.result()
        finally:
            self._past_dates.release()

    async def refresh(self) -> Evaluation:
        started = time.perf_counter()
        casebook = await self._store.load_casebook()
        as_at = self.as_at()
        # pure CPU work: off the event loop so health checks and scrapes stay responsive
        snapshot = await asyncio.to_thread(evaluate, casebook, self.context(as_at), self.config)
        self.casebook, self.snapshot, self._cache = casebook, snapshot, OrderedDict()
        self.refreshed_at = time.time()
        self.refresh_seconds = time.perf_counter() - started
        return snapshot

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="kpi-snapshot")

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
                self.health.failures_in_a_row = 0
            except Exception:
                self.health.failures += 1
                self.health.failures_in_a_row += 1
                log.exception(
                    "KPI snapshot refresh failed (%d in a row); keeping the previous one",
                    self.health.failures_in_a_row,
                )
            # A large case book takes a while to evaluate: leave the consumer most of the CPU,
            # and while it works through a backlog, refresh rarely (the figures are moving).
            pause = max(self._interval, 3 * (self.refresh_seconds or 0))
            if self._backlog() > CATCHING_UP_EVENTS:
                pause = max(pause, CATCHING_UP_PAUSE_SECONDS)
            await asyncio.sleep(pause)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
