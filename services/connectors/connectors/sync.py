"""The connectors' one use case: rows in, events out. Rows are merged into the ledger; every
pending child's events are derived afresh from all its rows, compared with what was posted
before, and the difference posted (new events, new revisions, voids); then recorded."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from connectors.drafts import EARLIEST, ChildEvents, plan
from connectors.ledger import CHUNK, Ledger
from connectors.records import ImportReport, Skipped, SourceRow

Derive = Callable[[str, Sequence[SourceRow], str, ChildEvents], None]
Post = Callable[[list[dict[str, Any]]], Awaitable[None]]


@dataclass
class Connector:
    source: str
    ledger: Ledger
    derive: Derive
    team: str  # for sources that name no team (the returns)
    post: Post
    earliest: date = EARLIEST
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    on_progress: Callable[[int, int], None] | None = None  # children done, of

    async def load(self, rows: Sequence[SourceRow], report: ImportReport) -> None:
        report.changed_rows += await self.ledger.merge(self.source, rows)
        await self.flush(report)

    async def flush(self, report: ImportReport) -> None:
        """Post the events of every pending child (a run killed earlier leaves some)."""
        children = await self.ledger.pending(self.source)
        for start in range(0, len(children), CHUNK):
            chunk = children[start : start + CHUNK]
            await self._post_chunk(chunk, report)
            if self.on_progress is not None:
                self.on_progress(min(start + CHUNK, len(children)), len(children))

    async def _post_chunk(self, chunk: Sequence[str], report: ImportReport) -> None:
        rows = await self.ledger.rows_of(self.source, chunk)
        posted = await self.ledger.posted_of(self.source, chunk)
        bodies: list[dict[str, Any]] = []
        records = []
        now = self.now()
        for child in chunk:
            events = ChildEvents(self.source, child, self.team, self.earliest)
            self.derive(child, rows.get(child, []), self.team, events)
            report.derived[child] = [Skipped(where, why) for where, why in events.skipped]
            planned = plan(posted.get(child, {}), events.drafts, now)
            bodies += planned.bodies
            records += planned.records
            report.unchanged += planned.unchanged
            report.voided += planned.voided
        if bodies:
            await self.post(bodies)
        report.posted += len(bodies)
        await self.ledger.record(self.source, chunk, records)
