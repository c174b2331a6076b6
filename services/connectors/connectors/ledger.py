"""What a connector remembers between runs, in its own database (SQLite by default, or
PostgreSQL): every source row it has read (the latest return's version of each), what it has
posted under each event id, the children whose events are still to be posted, and a poll's
position. A child is marked pending in the same transaction as its rows change, and unmarked
only once its events are posted and recorded, so a run killed anywhere loses nothing: the next
run posts what was pending (casetime takes a repeated event id and revision once)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from connectors.drafts import Posted
from connectors.records import SourceRow, latest_rows

METADATA = sa.MetaData()
ROW = sa.Table(
    "connector_row",
    METADATA,
    sa.Column("source", sa.String(16), primary_key=True),
    sa.Column("table_name", sa.String(64), primary_key=True),
    sa.Column("child", sa.String(64), primary_key=True),
    sa.Column("key", sa.String(200), primary_key=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("fields", sa.Text, nullable=False),
    sa.Column("location", sa.Text, nullable=False),
    # the poll that last saw the row (SSD): a row a whole scan did not see has been deleted
    sa.Column("seen", sa.Integer, nullable=True),
)
EVENT = sa.Table(
    "connector_event",
    METADATA,
    sa.Column("source", sa.String(16), primary_key=True),
    sa.Column("event_id", sa.String(128), primary_key=True),
    sa.Column("child", sa.String(64), nullable=False, index=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("event_type", sa.String(64), nullable=False),
    sa.Column("episode_id", sa.String(128), nullable=False),
    sa.Column("team", sa.String(100), nullable=False),
    sa.Column("occurred_at", sa.String(40), nullable=False),
    sa.Column("voided", sa.Boolean, nullable=False),
    sa.Column("voids", sa.Integer, nullable=False),
)
PENDING = sa.Table(
    "connector_pending",
    METADATA,
    sa.Column("source", sa.String(16), primary_key=True),
    sa.Column("child", sa.String(64), primary_key=True),
)
POSITION = sa.Table(
    "connector_position",
    METADATA,
    sa.Column("source", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
CHUNK = 500


def _insert(conn: AsyncConnection, table: sa.Table) -> Any:
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Ledger:
    def __init__(self, url: str) -> None:
        self.engine: AsyncEngine = create_async_engine(url)

    async def open(self) -> Ledger:
        async with self.engine.begin() as conn:
            await conn.run_sync(METADATA.create_all)
        return self

    async def close(self) -> None:
        await self.engine.dispose()

    async def merge(self, source: str, rows: Sequence[SourceRow], seen: int | None = None) -> int:
        """Keep each row unless the ledger holds its key from a later source date, and mark
        the children whose rows changed pending; return how many rows changed. A return's row
        seen again unchanged in a later return takes the later date (as ``latest_rows``, so
        the order returns come in does not matter); a polled row (``seen``: the poll) keeps
        the date it was first seen, which its events say it was known by."""
        changed = 0
        async with self.engine.begin() as conn:
            for chunk in _chunks(latest_rows(rows)):
                changed += await self._merge_chunk(conn, source, chunk, seen)
        return changed

    async def _merge_chunk(
        self, conn: AsyncConnection, source: str, chunk: Sequence[SourceRow], seen: int | None
    ) -> int:
        children = sorted({r.child for r in chunk})
        query = sa.select(ROW.c.table_name, ROW.c.child, ROW.c.key, ROW.c.as_of, ROW.c.fields)
        held = {
            (t, c, k): (a, f)
            for t, c, k, a, f in await conn.execute(
                query.where(ROW.c.source == source, ROW.c.child.in_(children))
            )
        }
        kept: list[dict[str, Any]] = []
        unchanged: list[dict[str, Any]] = []
        for row in chunk:
            fields = json.dumps(row.fields, sort_keys=True)
            before = held.get((row.table, row.child, row.key))
            same = before is not None and before[1] == fields
            if before is not None and (
                before[0] > row.as_of or (same and (seen is not None or before[0] == row.as_of))
            ):
                unchanged.append({"t": row.table, "c": row.child, "k": row.key})
                continue
            kept.append(
                {
                    "source": source,
                    "table_name": row.table,
                    "child": row.child,
                    "key": row.key,
                    "as_of": row.as_of,
                    "fields": fields,
                    "location": row.location,
                    "seen": seen,
                }
            )
        if seen is not None and unchanged:
            await conn.execute(
                ROW.update()
                .where(
                    ROW.c.source == source,
                    ROW.c.table_name == sa.bindparam("t"),
                    ROW.c.child == sa.bindparam("c"),
                    ROW.c.key == sa.bindparam("k"),
                )
                .values(seen=seen),
                unchanged,
            )
        if kept:
            insert = _insert(conn, ROW)
            columns = {c: insert.excluded[c] for c in ("as_of", "fields", "location", "seen")}
            keys = ["source", "table_name", "child", "key"]
            await conn.execute(
                insert.on_conflict_do_update(index_elements=keys, set_=columns), kept
            )
            await self._mark(conn, source, {str(k["child"]) for k in kept})
        return len(kept)

    async def sweep(self, source: str, table: str, poll: int) -> int:
        """Forget the table's rows the poll did not see (deleted at the source); their
        children go pending, so their events are voided. Returns how many."""
        async with self.engine.begin() as conn:
            stale = ROW.c.source == source, ROW.c.table_name == table, ROW.c.seen < poll
            gone = (await conn.execute(sa.select(ROW.c.child).where(*stale))).scalars().all()
            if gone:
                await conn.execute(ROW.delete().where(*stale))
                await self._mark(conn, source, set(gone))
        return len(gone)

    async def _mark(self, conn: AsyncConnection, source: str, children: set[str]) -> None:
        if children:
            insert = _insert(conn, PENDING).on_conflict_do_nothing()
            await conn.execute(insert, [{"source": source, "child": c} for c in sorted(children)])

    async def pending(self, source: str) -> list[str]:
        async with self.engine.connect() as conn:
            query = sa.select(PENDING.c.child).where(PENDING.c.source == source)
            return sorted(c for (c,) in await conn.execute(query))

    async def rows_of(self, source: str, children: Sequence[str]) -> dict[str, list[SourceRow]]:
        found: dict[str, list[SourceRow]] = defaultdict(list)
        async with self.engine.connect() as conn:
            query = sa.select(ROW).where(ROW.c.source == source, ROW.c.child.in_(children))
            for r in await conn.execute(query.order_by(ROW.c.table_name, ROW.c.key)):
                fields = json.loads(r.fields)
                as_of = r.as_of if isinstance(r.as_of, date) else date.fromisoformat(r.as_of)
                found[r.child].append(
                    SourceRow(r.table_name, r.child, r.key, as_of, fields, r.location)
                )
        return found

    async def posted_of(self, source: str, children: Sequence[str]) -> dict[str, dict[str, Posted]]:
        found: dict[str, dict[str, Posted]] = defaultdict(dict)
        async with self.engine.connect() as conn:
            query = sa.select(EVENT).where(EVENT.c.source == source, EVENT.c.child.in_(children))
            for r in await conn.execute(query):
                found[r.child][r.event_id] = Posted(
                    r.event_id, r.child, r.revision, r.digest, r.event_type, r.episode_id,
                    r.team, r.occurred_at, r.voided, r.voids,
                )  # fmt: skip
        return found

    async def record(self, source: str, children: Sequence[str], posted: Sequence[Posted]) -> None:
        """What was posted for these children, and that they are no longer pending."""
        async with self.engine.begin() as conn:
            for chunk in _chunks(list(posted)):
                insert = _insert(conn, EVENT)
                values = [{"source": source, "child": p.child_id, **_posted(p)} for p in chunk]
                columns = {c: insert.excluded[c] for c in _posted(chunk[0]) if c != "event_id"}
                statement = insert.on_conflict_do_update(
                    index_elements=["source", "event_id"], set_=columns
                )
                await conn.execute(statement, values)
            for chunk in _chunks(list(children)):
                await conn.execute(
                    PENDING.delete().where(PENDING.c.source == source, PENDING.c.child.in_(chunk))
                )

    async def position(self, source: str, name: str) -> str | None:
        async with self.engine.connect() as conn:
            query = sa.select(POSITION.c.value).where(
                POSITION.c.source == source, POSITION.c.name == name
            )
            value: str | None = await conn.scalar(query)
            return value

    async def set_position(self, source: str, name: str, value: str) -> None:
        async with self.engine.begin() as conn:
            insert = _insert(conn, POSITION)
            await conn.execute(
                insert.on_conflict_do_update(
                    index_elements=["source", "name"], set_={"value": insert.excluded.value}
                ),
                {"source": source, "name": name, "value": value},
            )


def _posted(p: Posted) -> dict[str, Any]:
    return {
        "event_id": p.event_id, "revision": p.revision, "digest": p.digest,
        "event_type": p.event_type, "episode_id": p.episode_id, "team": p.team,
        "occurred_at": p.occurred_at, "voided": p.voided, "voids": p.voids,
    }  # fmt: skip
