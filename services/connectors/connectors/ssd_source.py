"""Polling the SSD tables in the council's reporting database (PostgreSQL, or any database
SQLAlchemy reaches). The SSD keeps no change times, so each poll reads every table whole, in
bounded batches in primary key order, and the ledger tells what is new, changed or gone: a row
it holds unchanged is only marked seen, and at the end of a table's scan the rows it did not
see are deleted (their events voided). The scan's position is stored after each batch, so a
connector stopped anywhere goes on from there, and a batch's events are posted before the
position moves past it."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from connectors.ledger import Ledger
from connectors.pseudonyms import Pseudonyms
from connectors.records import ImportReport, RecordError, SourceRow
from connectors.ssd import SOURCE
from connectors.ssd_tables import TABLES, TEAM_COLUMNS, SsdTable, row_fields
from connectors.sync import Connector

PERSON = "__person"
log = logging.getLogger(__name__)


class SsdReader:
    def __init__(self, url: str, batch_size: int = 1000) -> None:
        self.engine: AsyncEngine = create_async_engine(url)
        self.batch_size = batch_size

    async def close(self) -> None:
        await self.engine.dispose()

    async def tables(self) -> set[str]:
        async with self.engine.connect() as conn:
            names = await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names())
        return set(names)

    async def teams(self, present: set[str]) -> dict[str, str]:
        """Team id to name (ssd_department), where the database has it (``present``: its
        tables)."""
        if "ssd_department" not in present:
            return {}
        query = sa.text("SELECT dept_team_id, dept_team_name FROM ssd_department")
        async with self.engine.connect() as conn:
            return {str(i): str(n) for i, n in await conn.execute(query) if n}

    def _select(self, table: SsdTable, after: str | None) -> Any:
        t = sa.table(table.name, sa.column(table.key))
        if table.via is not None:
            column, other, match, person = table.via
            o = sa.table(other, sa.column(match), sa.column(person))
            who = sa.select(o.c[person]).where(o.c[match] == sa.column(column)).limit(1)
            query = sa.select(sa.text("*"), who.scalar_subquery().label(PERSON))
        else:
            query = sa.select(sa.text("*"))
        query = query.select_from(t)
        if after is not None:
            query = query.where(t.c[table.key] > after)
        return query.order_by(t.c[table.key]).limit(self.batch_size)

    async def batches(
        self, table: SsdTable, after: str | None
    ) -> AsyncIterator[list[Mapping[str, Any]]]:
        while True:
            async with self.engine.connect() as conn:
                found: list[Mapping[str, Any]] = [
                    dict(r._mapping) for r in await conn.execute(self._select(table, after))
                ]
            if not found:
                return
            yield found
            after = str(found[-1][table.key])


@dataclass
class Scan:
    poll: int
    table: str
    after: str | None = None


class SsdPoller:
    def __init__(
        self,
        reader: SsdReader,
        ledger: Ledger,
        pseudonyms: Pseudonyms,
        connector: Connector,
        today: Any = date.today,
    ) -> None:
        self.reader, self.ledger, self.pseudonyms = reader, ledger, pseudonyms
        self.connector, self.today = connector, today

    async def _scan(self) -> Scan:
        held = await self.ledger.position(SOURCE, "scan")
        if held:
            return Scan(**json.loads(held))  # a poll stopped part-way: go on with it
        last = int(await self.ledger.position(SOURCE, "poll") or 0)
        return Scan(last + 1, TABLES[0].name)

    async def _save(self, scan: Scan | None, poll: int | None = None) -> None:
        body = "" if scan is None else json.dumps(scan.__dict__)
        await self.ledger.set_position(SOURCE, "scan", body)
        if poll is not None:
            await self.ledger.set_position(SOURCE, "poll", str(poll))

    async def poll(
        self, report: ImportReport, on_batch: Callable[[str, int], None] | None = None
    ) -> None:
        """One whole poll of every table (or the rest of one stopped part-way); ``on_batch``
        is told the table and the rows read so far after each batch."""
        await self.connector.flush(report)  # what a stopped run left pending
        scan = await self._scan()
        present = await self.reader.tables()
        teams = await self.reader.teams(present)
        names = [t.name for t in TABLES]
        for table in TABLES[names.index(scan.table) :]:
            scan.table = table.name
            if table.name not in present:
                report.notes.append(f"{table.name}: not in the database; its rows are kept")
                scan.after = None
                continue
            async for batch in self.reader.batches(table, scan.after):
                rows = self._rows(table, batch, teams, report)
                report.changed_rows += await self.ledger.merge(SOURCE, rows, seen=scan.poll)
                await self.connector.flush(report)
                scan.after = str(batch[-1][table.key])
                await self._save(scan)
                if on_batch is not None:
                    on_batch(table.name, sum(report.rows.values()))
            await self.ledger.sweep(SOURCE, table.name, scan.poll)
            await self.connector.flush(report)
            scan.after = None
            await self._save(scan)
        await self._save(None, scan.poll)

    def _rows(
        self,
        table: SsdTable,
        batch: list[Mapping[str, Any]],
        teams: dict[str, str],
        report: ImportReport,
    ) -> list[SourceRow]:
        rows = []
        today = self.today()
        for record in batch:
            where = f"{table.name} {table.key}={record[table.key]}"
            person = record.get(table.person) if table.person else record.get(PERSON)
            if person is None or not str(person).strip():
                report.skip(where, "no person id")
                continue
            try:
                fields = row_fields(table, record, self.pseudonyms.token)
            except RecordError as exc:
                report.skip(where, str(exc))
                continue
            for column in TEAM_COLUMNS & fields.keys():
                if fields[column] is not None:
                    fields[column] = teams.get(fields[column], fields[column])
            child = self.pseudonyms.child(str(person))
            key = self.pseudonyms.token(table.kind, record[table.key])
            report.children.add(child)
            report.rows[table.name] += 1
            rows.append(SourceRow(table.name, child, key, today, fields, where))
        return rows


async def run_polls(
    poller: SsdPoller,
    every_seconds: float,
    stop: Any,
    on_report: Any = None,
    max_backoff: float = 600.0,
) -> None:
    """Poll until ``stop`` (an asyncio.Event) is set: a poll every ``every_seconds``, and after
    a failure (casetime unavailable past its retries, the database away) the next try later,
    doubling up to ``max_backoff``. A stop waits for the batch in hand, never cuts one."""
    wait = every_seconds
    while not stop.is_set():
        report = ImportReport(SOURCE)
        try:
            await poller.poll(report)
            wait = every_seconds
            if on_report is not None:
                on_report(report)
        except Exception:
            wait = min(max(wait * 2, 5.0), max_backoff)
            log.exception("SSD poll failed; the next try in %.0f s (nothing is lost)", wait)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=wait)
