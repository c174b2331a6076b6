"""The scheduled month-end freeze on the real PostgreSQL: nothing before the council's day and
time; then the month just closed is frozen and its pack written whole into the folder, the
same bytes as the pack asked for over HTTP; a file lost from the folder is written again from
the same freeze; two instances running the schedule at once make one freeze."""

from __future__ import annotations

import asyncio
import io
from datetime import date, time
from pathlib import Path

import pytest
from openpyxl import load_workbook

from kpi.adapters.freezes import FreezeStore
from kpi.adapters.snapshots import SnapshotRefresher
from kpi.adapters.store import CaseStore
from kpi.board import Board
from kpi.domain.calendar import england_calendar
from kpi.domain.council import CouncilConfig
from kpi.scheduled_packs import ScheduledPacks
from kpi.service import record_events, refold, units_touched
from tests.support.history import assessed

pytestmark = pytest.mark.infra

CONFIG = CouncilConfig(council="Scheduled", small_number_threshold=0)
JANUARY = date(2025, 1, 1)


async def live(store: CaseStore) -> SnapshotRefresher:
    events = [
        *assessed("SCHED-1", "2024-12-02", "2025-01-10"),  # in time
        *assessed("SCHED-2", "2024-10-01", "2025-01-15"),  # late
    ]
    async with store.transaction() as repo:
        _, touched = await record_events(repo, [(e, None) for e in events])
        await refold(repo, touched)
        await repo.facts.mark_dirty(units_touched(touched))
    refresher = SnapshotRefresher(store, CONFIG, england_calendar(), 60, date(2025, 2, 3))
    await refresher.refresh()
    return refresher


def listing(folder: Path) -> list[str]:
    """What the folder holds, a partly written file too."""
    return sorted(p.name for p in folder.iterdir())


def schedule(board: Board, folder: Path, clock: list[time]) -> ScheduledPacks:
    # the 3rd at 06:00; the clock is whatever the test last put in the list
    return ScheduledPacks(board, folder, 3, time(6, 0), 60, clock=lambda: clock[-1])


async def test_the_month_is_frozen_on_its_day_and_its_pack_written_whole(
    store: CaseStore, tmp_path: Path
) -> None:
    refresher = await live(store)
    freezes = FreezeStore(store)
    board = Board(refresher, CONFIG, freezes, 120)
    clock = [time(5, 59)]
    packs = schedule(board, tmp_path, clock)

    assert await packs.tick() is None
    assert await freezes.months() == []
    assert listing(tmp_path) == []

    clock.append(time(6, 0))
    assert await packs.tick() == JANUARY
    assert await freezes.months() == [JANUARY]
    names = listing(tmp_path)
    assert names == ["casetime-pack-2025-01.pdf", "casetime-pack-2025-01.xlsx"]
    workbook = (tmp_path / names[1]).read_bytes()
    assert workbook == await board.pack(JANUARY)
    assert (tmp_path / names[0]).read_bytes() == await board.pack_pdf(JANUARY)
    rows = load_workbook(io.BytesIO(workbook))["Scorecard"].iter_rows(values_only=True)
    asmt = next(r for r in rows if r[0] == "ASMT-45WD")
    assert asmt[7:9] == (1, 2)  # numerator, denominator

    # a later tick leaves the files alone; one lost from the folder comes back the same
    stamp = (tmp_path / names[1]).stat().st_mtime_ns
    assert await packs.tick() == JANUARY
    assert (tmp_path / names[1]).stat().st_mtime_ns == stamp
    (tmp_path / names[1]).unlink()
    assert await schedule(board, tmp_path, clock).tick() == JANUARY  # a restarted service
    assert (tmp_path / names[1]).read_bytes() == workbook


async def test_two_instances_on_the_schedule_make_one_freeze(
    store: CaseStore, tmp_path: Path
) -> None:
    refresher = await live(store)
    clock = [time(7, 0)]
    boards = [Board(refresher, CONFIG, FreezeStore(store), 120) for _ in range(2)]
    done = await asyncio.gather(*(schedule(b, tmp_path, clock).tick() for b in boards))
    assert done == [JANUARY, JANUARY]
    held = await FreezeStore(store).get(JANUARY)
    assert held is not None
    assert (tmp_path / "casetime-pack-2025-01.xlsx").read_bytes() == await boards[0].pack(JANUARY)
    assert listing(tmp_path) == ["casetime-pack-2025-01.pdf", "casetime-pack-2025-01.xlsx"]
