"""Deriving units' facts away from the event loop's interpreter: in a worker process when there
is enough to derive, else in a thread.

Deriving is pure CPU (every rule over a unit's episodes, about 0.3 ms a child). In the event
loop's process it holds the interpreter lock the consumer needs, so at 1,000 new children a
second the two take turns and each waits on the other. A worker process derives on the second
core. It is sent each unit's stored rows (plain text, cheap to send), parses and derives them,
and sends the facts back; the calendar and the rule settings go once, when it starts. Small
rounds (a test's, a quiet council's) stay in a thread: a process costs its start-up and a
round trip.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import date

from kpi.adapters.fact_store import EncodedFacts, UnitRows
from kpi.domain.calendar import WorkingDayCalendar
from kpi.domain.casebook import RuleContext, RuleSettings
from kpi.domain.facts import split_unit, unit_facts

log = logging.getLogger(__name__)
# rounds of fewer units are derived in a thread of the service's own process
IN_PROCESS_UNITS = 64

_context: tuple[WorkingDayCalendar, RuleSettings] | None = None


def derive(rows: Mapping[str, UnitRows], ctx: RuleContext) -> dict[str, EncodedFacts]:
    """Each unit's facts as at ``ctx.as_at``, from its stored rows, as they are stored."""
    return {
        u: EncodedFacts.of(unit_facts(split_unit(u)[0], r.book(), ctx)) for u, r in rows.items()
    }


def _start_worker(calendar: WorkingDayCalendar, settings: RuleSettings) -> None:
    global _context
    _context = (calendar, settings)


def _derive_in_worker(rows: dict[str, UnitRows], as_at: date) -> dict[str, EncodedFacts]:
    if _context is None:
        raise RuntimeError("the worker was not started with its calendar")
    calendar, settings = _context
    return derive(rows, RuleContext(as_at, calendar, settings))


class FactDeriver:
    def __init__(
        self, calendar: WorkingDayCalendar, settings: RuleSettings, workers: int = 0
    ) -> None:
        self._calendar = calendar
        self._settings = settings
        self._workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def _ctx(self, as_at: date) -> RuleContext:
        return RuleContext(as_at, self._calendar, self._settings)

    def _worker_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                self._workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self._calendar, self._settings),
            )
        return self._pool

    async def derive(self, rows: Mapping[str, UnitRows], as_at: date) -> dict[str, EncodedFacts]:
        if not rows:
            return {}
        if self._workers < 1 or len(rows) < IN_PROCESS_UNITS:
            return await asyncio.to_thread(derive, rows, self._ctx(as_at))
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._worker_pool(), _derive_in_worker, dict(rows), as_at
            )
        except BrokenProcessPool:
            # the worker died (killed, out of memory): a new one for the next round; this
            # round's transaction rolls back and its units stay queued
            log.error("the facts worker process died; starting another")
            self.close()
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
