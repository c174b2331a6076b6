"""The scheduled month-end freeze: on the council's day and time, the month just closed is
frozen and its pack (XLSX and PDF) written into the configured folder. Several KPI service
instances may run it at once: the freeze store keeps the first freeze of a month, and each file
is written whole from that one freeze, so they all write the same bytes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

from kpi.adapters.pack_folder import pack_name, write_whole
from kpi.board import Board
from kpi.domain.board_pack import freeze_due

log = logging.getLogger(__name__)
LONDON = ZoneInfo("Europe/London")


def london_clock() -> time:
    return datetime.now(LONDON).time()


class ScheduledPacks:
    def __init__(
        self,
        board: Board,
        folder: Path,
        day: int,
        at: time,
        every_seconds: float,
        clock: Callable[[], time] = london_clock,
    ) -> None:
        self.board, self.folder, self.day, self.at = board, folder, day, at
        self.every_seconds, self.clock = every_seconds, clock
        self._task: asyncio.Task[None] | None = None
        self._done: date | None = None  # the month whose files this process has seen written

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="kpi-scheduled-packs")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                # the next tick tries again: a freeze refused for time, a folder not writable
                log.exception(
                    "scheduled board pack failed; trying again in %s s", self.every_seconds
                )
            await asyncio.sleep(self.every_seconds)

    async def tick(self) -> date | None:
        """Freeze the month due, if any, and write whichever of its files the folder lacks;
        return the month whose pack the folder now holds."""
        snapshot = self.board.refresher.snapshot
        if snapshot is None:
            return None  # no figures yet: nothing to say which day it is
        month = freeze_due(snapshot.as_at, self.clock(), self.day, self.at)
        if month is None:
            return None
        if month == self._done and all(self._has(month, kind) for kind in ("xlsx", "pdf")):
            return month
        freeze, made = await self.board.freeze(month)
        if made:
            log.info("froze %s (%d events known)", f"{month:%Y-%m}", freeze.events_known)
        for kind, pack in (("xlsx", self.board.pack), ("pdf", self.board.pack_pdf)):
            if made or not self._has(month, kind):
                body = await pack(month)
                path = await asyncio.to_thread(
                    write_whole, self.folder, pack_name(month, kind), body
                )
                log.info("wrote the board pack %s", path)
        self._done = month
        return month

    def _has(self, month: date, kind: str) -> bool:
        return (self.folder / pack_name(month, kind)).exists()
