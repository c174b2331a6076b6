"""The board pack's use cases: freeze a month at its close, and write its pack. The freeze
evaluates the month's last day as `/kpis?as_at=` does (every figure rated and compared), and,
when an earlier month was frozen, what later events have changed in it (revisions)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from kpi.adapters.freezes import FreezeStore
from kpi.adapters.snapshots import SnapshotRefresher
from kpi.domain.board_pack import (
    Freeze,
    PackContext,
    Revision,
    freeze_of,
    month_end,
    revisions,
    scorecard_settings,
    trend_months,
)
from kpi.domain.council import CouncilConfig
from kpi.domain.evaluation import Evaluation
from kpi.domain.kpis import KPIS
from kpi.domain.report import KpiRow, comparison_dates, kpi_rows


class MonthNotEndedError(Exception):
    """A month is frozen only once it has ended (at the live as-at date)."""


class NotFrozenError(Exception):
    pass


class Board:
    def __init__(
        self,
        refresher: SnapshotRefresher,
        config: CouncilConfig,
        freezes: FreezeStore,
        budget_seconds: float,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.refresher, self.config, self.freezes = refresher, config, freezes
        self.budget_seconds, self.now = budget_seconds, now

    async def rows_as_at(self, day: date) -> tuple[list[KpiRow], Evaluation]:
        """Every figure as at ``day``, rated and compared, and the evaluation behind them."""
        evaluate = self.refresher.evaluate_past
        evaluation = await evaluate(day, self.budget_seconds)
        earlier = {
            previous: await evaluate(previous, self.budget_seconds)
            for previous in sorted(comparison_dates(day))
        }
        return kpi_rows(evaluation, self.config, earlier.__getitem__), evaluation

    async def freeze(self, month: date) -> tuple[Freeze, bool]:
        """The month's freeze, made now if it has none (True when made now)."""
        month = month.replace(day=1)
        held = await self.freezes.get(month)
        if held is not None:
            return held, False
        live = self.refresher.snapshot
        live_day = live.as_at if live is not None else self.now().date()
        if month_end(month) >= live_day:
            raise MonthNotEndedError(f"{month:%B %Y} has not ended (figures as at {live_day})")
        frozen_at = self.now()
        known = await self.freezes.events_known()
        rows, evaluation = await self.rows_as_at(month_end(month))
        revised = await self._revisions_before(month)
        settings = scorecard_settings(self.config)
        made = freeze_of(month, frozen_at, known, rows, evaluation, revised, settings)
        kept = await self.freezes.add(made)
        return kept, kept is made

    async def _revisions_before(self, month: date) -> list[Revision]:
        """The latest earlier frozen month, evaluated again now, against its freeze."""
        earlier = [m for m in await self.freezes.months() if m < month]
        if not earlier:
            return []
        previous = await self.freezes.get(earlier[-1])
        assert previous is not None
        rows, _ = await self.rows_as_at(previous.month_end)
        return revisions(previous, rows, await self.freezes.late_events(previous))

    async def _context(self, month: date) -> PackContext:
        freeze = await self.freezes.get(month.replace(day=1))
        if freeze is None:
            raise NotFrozenError(f"{month:%B %Y} is not frozen")
        earlier = []
        for m in trend_months(freeze.month)[:-1]:
            held = await self.freezes.get(m)
            if held is not None:
                earlier.append(held)
        return PackContext(self.config.council, freeze, earlier)

    async def pack(self, month: date) -> bytes:
        """The workbook."""
        from kpi.adapters.xlsx_pack import xlsx_bytes  # openpyxl: loaded when a pack is made

        return xlsx_bytes(await self._context(month))

    async def pack_pdf(self, month: date) -> bytes:
        """The printed pack."""
        from kpi.adapters.pdf_pack import pdf_bytes  # ReportLab: loaded when a pack is made

        targets = {k: (self.config.target_for(k), self.config.polarity_of(k)) for k in KPIS}
        return pdf_bytes(await self._context(month), targets)
