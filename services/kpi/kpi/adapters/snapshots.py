"""Keeps the KPI facts up to date as events arrive; /metrics and the query API read their
totals.

The consumer marks the units (children, care proceedings applications) a batch touched as
dirty, in the batch's own transaction. This keeper takes them off the queue, derives their
facts again (pure, per unit) for the live as-at date and writes the difference to the totals;
then it reloads the totals, a few thousand rows whatever the case book's size, so an applied
event shows in the figures within a second. The dates the live figures are compared with
(previous month, quarter, year) are kept the same way, behind the live date. A new date (at
midnight, or when the council's rules change) is built unit by unit in the background while
the previous one is still served. A kept date is left alone when every change to a unit
happened after it. Deriving, the CPU-heavy part, runs in a worker process
(``kpi.adapters.derivation``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from casetime.events import LONDON
from kpi.adapters.derivation import FactDeriver
from kpi.adapters.fact_store import (
    LIVE,
    PAST,
    SqlFactRepository,
    UnitRows,
    breach_of,
    clock_of,
    issue_of,
)
from kpi.adapters.store import CaseStore
from kpi.adapters.tables import FactGenerationRecord
from kpi.domain.calendar import WorkingDayCalendar
from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.council import CouncilConfig
from kpi.domain.evaluation import Evaluation, EvaluationStoppedError, evaluate
from kpi.domain.facts import evaluation_from_totals
from kpi.domain.report import comparison_dates

log = logging.getLogger(__name__)
CACHED_EVALUATIONS = 32
# this many failed steps in a row and /readyz fails: the figures have stopped moving
FAILURES_BEFORE_UNREADY = 3
UNITS_PER_TRANSACTION = 500
# the totals are read again at least this often, to show what other KPI services wrote
RELOAD_SECONDS = 1.0
# while more events than this wait, the keeper pauses between rounds and keeps to the live date
CATCHING_UP_EVENTS = 5_000
CATCHING_UP_PAUSE_SECONDS = 2.0
# a case book loaded for a past date without kept facts is reused for this long
BOOK_SECONDS = 30.0


@dataclass
class RefreshHealth:
    failures: int = 0
    failures_in_a_row: int = 0

    @property
    def healthy(self) -> bool:
        return self.failures_in_a_row < FAILURES_BEFORE_UNREADY


class QueryRefusedError(Exception):
    """A past-date evaluation was not run or not finished: too busy, too slow, or abandoned."""


async def _never() -> bool:
    return False


def _reached(generation: FactGenerationRecord, unit: str) -> bool:
    """Whether the date's facts include ``unit`` yet: built, or its build has passed it."""
    return generation.built or unit <= generation.cursor


def kept_dates(live: date) -> set[date]:
    """The live date and every date its figures are compared with (direction of travel)."""
    return {live} | comparison_dates(live)


class SnapshotRefresher:
    def __init__(
        self,
        store: CaseStore,
        config: CouncilConfig,
        calendar: WorkingDayCalendar,
        interval_seconds: float,
        fixed_as_at: date | None = None,
        backlog: Callable[[], int] = lambda: 0,
        fact_workers: int = 0,
    ) -> None:
        self._store = store
        self.config = config
        self._calendar = calendar
        self._interval = interval_seconds
        self._fixed_as_at = fixed_as_at
        self._backlog = backlog
        self.snapshot: Evaluation | None = None
        self.refreshed_at: float | None = None  # when the served totals were read
        self.refresh_seconds: float | None = None
        self.pending_units = 0
        self.health = RefreshHealth()
        self.wake = asyncio.Event()
        # a whole case book, loaded only for past dates whose facts are not kept
        self.casebook: CaseBook | None = None
        self._book_loaded = 0.0
        self._cache: OrderedDict[date, Evaluation] = OrderedDict()
        self._task: asyncio.Task[None] | None = None
        self._past_dates = asyncio.Semaphore(1)
        self._built: set[date] = set()
        self._served: date | None = None
        self._rules = f"{config.rule_settings()!r} {config.working_day_convention}"
        self._step_lock = asyncio.Lock()
        self._deriver = FactDeriver(calendar, config.rule_settings(), fact_workers)
        # the dates whose facts were written since the served figures were last read
        self._written: set[date] = set()

    def as_at(self) -> date:
        return self._fixed_as_at or datetime.now(LONDON).date()

    def context(self, as_at: date) -> RuleContext:
        return RuleContext(as_at, self._calendar, self.config.rule_settings())

    # --- keeping the facts ------------------------------------------------------------------

    async def _generations(self) -> list[FactGenerationRecord]:
        """The kept dates, added and dropped as the live date moves; the one served stays
        until the new live date is built."""
        wanted = kept_dates(self.as_at())
        if self._served is not None:
            wanted.add(self._served)
        async with self._store.transaction() as repo:
            kept = await repo.facts.generations()
            for g in kept:
                if g.as_at not in wanted or g.rules != self._rules:
                    log.info("dropping the facts as at %s", g.as_at)
                    await repo.facts.drop_generation(g.as_at)
            held = [g for g in kept if g.as_at in wanted and g.rules == self._rules]
            missing = wanted - {g.as_at for g in held}
            if missing and not held:
                # every date is built from here, reading each unit as it then is: what the
                # queues hold (a rebuild's whole replay) would only be derived twice
                await repo.facts.clear_dirty()
            for as_at in sorted(missing):
                log.info("building the facts as at %s", as_at)
                await repo.facts.add_generation(as_at, self._rules)
            return await repo.facts.generations() if missing else held

    async def _read(self, repo: SqlFactRepository, units: Sequence[str]) -> dict[str, UnitRows]:
        """The units' stored rows, the units locked first, so that no other writer can write
        facts from episodes older than the ones read here."""
        await repo.lock(units)
        return await repo.book_rows(units)

    async def _write_at(
        self, repo: SqlFactRepository, rows: Mapping[str, UnitRows], as_at: date
    ) -> None:
        if rows:
            await repo.write(as_at, await self._deriver.derive(rows, as_at))
            self._written.add(as_at)

    async def _drain(self, queue: str, generations: Sequence[FactGenerationRecord]) -> int:
        """Queued units derived again at each date their changes reach back to: a date before
        every change to a unit keeps its facts (the rules as at a date look at nothing that
        happened after it), and a date being built skips the units its build has not reached
        yet (the build will read them)."""
        async with self._store.transaction() as repo:
            units = await repo.facts.take_dirty(queue, UNITS_PER_TRANSACTION)
            wanted = {
                g.as_at: [u for u, since in units.items() if since <= g.as_at and _reached(g, u)]
                for g in generations
            }
            needed = sorted({u for at in wanted.values() for u in at})
            if needed:
                rows = await self._read(repo.facts, needed)
                for as_at, at in wanted.items():
                    await self._write_at(repo.facts, {u: rows[u] for u in at}, as_at)
        return len(units)

    async def _build(self, generation: FactGenerationRecord) -> int:
        async with self._store.transaction() as repo:
            units = await repo.facts.units_after(generation.cursor, UNITS_PER_TRANSACTION)
            await self._write_at(repo.facts, await self._read(repo.facts, units), generation.as_at)
            built = len(units) < UNITS_PER_TRANSACTION
            cursor = units[-1] if units else generation.cursor
            await repo.facts.advance(generation.as_at, cursor, built)
        if built:
            log.info("facts as at %s built", generation.as_at)
        return len(units)

    def _serving(self) -> date | None:
        """The date whose figures are served: the live date once it is built."""
        live = self.as_at()
        return live if live in self._built else self._served

    async def step(self) -> int:
        """One round of work: the live queue first, then one chunk of a date being built, then
        the earlier dates' queue. Returns how many units it derived."""
        async with self._step_lock:
            generations = await self._generations()
            live = self.as_at()
            self._built = {g.as_at for g in generations if g.built}
            served = self._serving()
            newer = [g for g in generations if served is None or g.as_at >= served]
            older = [g for g in generations if g not in newer]
            done = await self._drain(LIVE, newer)
            if done:
                return done
            for g in sorted(generations, key=lambda g: (g.as_at != live, -g.as_at.toordinal())):
                if not g.built and (g.as_at == live or not self.catching_up()):
                    return await self._build(g) or 1
            if self.catching_up():
                return 0  # the earlier dates wait: the consumer needs the CPU
            return await self._drain(PAST, older)

    def catching_up(self) -> bool:
        return self._backlog() > CATCHING_UP_EVENTS

    async def reload(self) -> Evaluation | None:
        """The served figures, from the totals."""
        served = self._serving()
        if served is None:
            return self.snapshot
        self._written.discard(served)
        started = time.perf_counter()
        async with self._store.transaction() as repo:
            totals = await repo.facts.totals(served)
            self.pending_units = await repo.facts.dirty_count()
        self.snapshot = evaluation_from_totals(
            totals, served, self.config, self.config.rule_settings().population_0_to_17
        )
        self._served = served
        self.refreshed_at = time.time()
        self.refresh_seconds = time.perf_counter() - started
        return self.snapshot

    def _book_changed(self) -> None:
        """Past-date evaluations of the whole book must load it again."""
        self._book_loaded = 0.0
        self._cache = OrderedDict()

    async def refresh(self) -> Evaluation:
        """Every queued unit derived and the live date built, then the figures read."""
        while await self.step():
            pass
        self._book_changed()
        snapshot = await self.reload()
        if snapshot is None:
            raise LookupError("no facts built yet")
        return snapshot

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="kpi-facts")

    async def _run(self) -> None:
        next_reload = 0.0
        while True:
            try:
                done = await self.step()
                if done:
                    self._book_changed()
                if self._serving() in self._written or time.monotonic() >= next_reload:
                    await self.reload()
                    next_reload = time.monotonic() + RELOAD_SECONDS
                self.health.failures_in_a_row = 0
            except Exception:
                done = 0
                self.health.failures += 1
                self.health.failures_in_a_row += 1
                log.exception(
                    "keeping the KPI facts failed (%d in a row); serving the last figures",
                    self.health.failures_in_a_row,
                )
                await asyncio.sleep(min(self._interval, 5.0))
            if self.catching_up():
                # while the consumer works through a backlog, a unit touched by many batches
                # is derived once per pause rather than once per batch
                await asyncio.sleep(CATCHING_UP_PAUSE_SECONDS)
            elif not done:
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), timeout=RELOAD_SECONDS)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._deriver.close()

    # --- past dates -------------------------------------------------------------------------

    async def kept(self, as_at: date, lists: bool = False) -> Evaluation | None:
        """The evaluation at a kept date, from its totals (and its child-level rows when
        ``lists``); None when the date's facts are not kept."""
        if as_at not in self._built:
            return None
        async with self._store.transaction() as repo:
            totals = await repo.facts.totals(as_at)
            found: tuple[Any, Any, Any] = ((), (), ())
            if lists:
                found = (
                    [breach_of(b) for b in await repo.facts.item_bodies(as_at, "breach")],
                    [clock_of(c) for c in await repo.facts.item_bodies(as_at, "clock")],
                    [issue_of(i) for i in await repo.facts.item_bodies(as_at, "issue")],
                )
        population = self.config.rule_settings().population_0_to_17
        return evaluation_from_totals(totals, as_at, self.config, population, found)

    def evaluate_at(
        self, as_at: date, should_stop: Callable[[], bool] = lambda: False
    ) -> Evaluation:
        """A whole-book evaluation of the loaded case book as at any date (cached). Blocking."""
        if self.casebook is None:
            raise LookupError("no case book loaded")
        found = self._cache.get(as_at)
        if found is not None:
            return found
        evaluation = evaluate(self.casebook, self.context(as_at), self.config, should_stop)
        self._cache[as_at] = evaluation
        while len(self._cache) > CACHED_EVALUATIONS:
            self._cache.popitem(last=False)
        return evaluation

    async def _load_book(self) -> None:
        if self._store is None or (
            self._book_loaded and time.monotonic() - self._book_loaded < BOOK_SECONDS
        ):
            return
        self.casebook = await self._store.load_casebook()
        self._book_loaded = time.monotonic()
        self._cache = OrderedDict()

    async def evaluate_past(
        self,
        as_at: date,
        budget_seconds: float,
        abandoned: Callable[[], Awaitable[bool]] = _never,
        lists: bool = False,
    ) -> Evaluation:
        """A kept date from its totals; any other date by a whole-book evaluation off the event
        loop, one at a time, within a time budget, stopped as soon as the budget is spent or
        ``abandoned`` says the client has gone."""
        kept = await self.kept(as_at, lists)
        if kept is not None:
            return kept
        found = self._cache.get(as_at)
        if found is not None:
            return found
        deadline = time.monotonic() + budget_seconds
        stop = threading.Event()
        try:
            await asyncio.wait_for(self._past_dates.acquire(), timeout=budget_seconds)
        except TimeoutError:
            raise QueryRefusedError("another past-date evaluation is running") from None
        try:
            await self._load_book()
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
