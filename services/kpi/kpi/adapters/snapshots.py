"""Keeps the KPI snapshot fresh in the background."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from datetime import date, datetime

from casetime.events import LONDON
from kpi.adapters.store import CaseStore
from kpi.domain.calendar import WorkingDayCalendar
from kpi.domain.periods import earliest_start
from kpi.domain.snapshot import KpiSnapshot, compute_snapshot

log = logging.getLogger(__name__)


class SnapshotRefresher:
    def __init__(
        self,
        store: CaseStore,
        calendar: WorkingDayCalendar,
        interval_seconds: float,
        fixed_as_at: date | None = None,
    ) -> None:
        self._store = store
        self._calendar = calendar
        self._interval = interval_seconds
        self._fixed_as_at = fixed_as_at
        self.snapshot: KpiSnapshot | None = None
        self.refreshed_at: float | None = None
        self._task: asyncio.Task[None] | None = None

    def as_at(self) -> date:
        return self._fixed_as_at or datetime.now(LONDON).date()

    async def compute(self, as_at: date) -> KpiSnapshot:
        inputs = await self._store.load_kpi_inputs(earliest_start(as_at), as_at)
        return compute_snapshot(inputs, as_at, self._calendar)

    async def refresh(self) -> KpiSnapshot:
        snapshot = await self.compute(self.as_at())
        self.snapshot, self.refreshed_at = snapshot, time.time()
        return snapshot

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="kpi-snapshot")

    async def _run(self) -> None:
        while True:
            try:
                await self.refresh()
            except Exception:
                log.exception("KPI snapshot refresh failed; keeping the previous one")
            await asyncio.sleep(self._interval)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
