"""The KPI facts adapter: each unit's facts, their totals and rows, and the queue of units to
derive again, in the case store's database (PostgreSQL, or SQLite in embedded mode).

Writers of one unit's facts are serialised: on PostgreSQL by an advisory lock per unit taken in
a fixed order (several KPI services may share the database), on SQLite by its single writer.
Totals are updated in key order, so two writers never wait on each other in a cycle.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from kpi.adapters.sql import RECORDED_EVENT, chunks, dialect_of, episode_of, insert_for
from kpi.adapters.tables import (
    CaseEventRecord,
    DirtyUnitRecord,
    EpisodeRecord,
    FactGenerationRecord,
    FactItemRecord,
    FactTotalRecord,
    FactUnitRecord,
)
from kpi.domain.casebook import CaseBook, RecordingCount
from kpi.domain.data_quality import Check, Issue
from kpi.domain.evaluation import Breach, ClockState, OpenClockStatus
from kpi.domain.facts import (
    APPLICATION,
    CHILD,
    Cells,
    UnitFacts,
    decode_key,
    difference,
    encode_key,
    split_unit,
    unit_of_application,
    unit_of_child,
)
from kpi.domain.kpis.base import OpenClock

_EVENT = CaseEventRecord.__table__  # type: ignore[attr-defined]
_EPISODE = EpisodeRecord.__table__  # type: ignore[attr-defined]
_GENERATION = FactGenerationRecord.__table__  # type: ignore[attr-defined]
_UNIT = FactUnitRecord.__table__  # type: ignore[attr-defined]
_TOTAL = FactTotalRecord.__table__  # type: ignore[attr-defined]
_ITEM = FactItemRecord.__table__  # type: ignore[attr-defined]
_DIRTY = DirtyUnitRecord.__table__  # type: ignore[attr-defined]

LIVE, PAST = "live", "past"


def _encode_cells(cells: Cells) -> str:
    return json.dumps(sorted([encode_key(k), n, d] for k, (n, d) in cells.items()))


def _decode_cells(text_: str) -> Cells:
    return {decode_key(k): (n, d) for k, n, d in json.loads(text_)}


def _default(value: object) -> object:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    raise TypeError(type(value))


def _items(facts: UnitFacts) -> Iterable[tuple[str, str, str]]:
    """(kind, team, body) of each child-level row."""
    for b in facts.breaches:
        yield "breach", b.team, json.dumps(asdict(b), default=_default)
    for c in facts.clocks:
        yield "clock", c.clock.team, json.dumps(asdict(c), default=_default)
    for i in facts.issues:
        yield "issue", i.team, json.dumps(asdict(i), default=_default)


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def breach_of(body: Mapping[str, Any]) -> Breach:
    return Breach(
        **{**body, "counted_on": date.fromisoformat(body["counted_on"]), "due": _date(body["due"])}
    )


def clock_of(body: Mapping[str, Any]) -> OpenClockStatus:
    raw = body["clock"]
    clock = OpenClock(
        raw["kpi"],
        raw["team"],
        raw["child_id"],
        raw["episode_id"],
        date.fromisoformat(raw["due"]),
        datetime.fromisoformat(raw["due_at"]) if raw["due_at"] else None,
        timedelta(seconds=raw["limit"]) if raw["limit"] is not None else None,
    )
    return OpenClockStatus(
        clock, ClockState(body["state"]), body["days_left"], body["working_days_left"]
    )


def issue_of(body: Mapping[str, Any]) -> Issue:
    return Issue(**{**body, "check": Check(body["check"])})


@dataclass(frozen=True, slots=True)
class EncodedFacts:
    """A unit's facts as they are stored: its cells (and as JSON), and its child-level rows as
    (kind, team, JSON body). Encoded where they are derived, off the event loop."""

    cells: Cells
    encoded_cells: str
    items: tuple[tuple[str, str, str], ...]

    @classmethod
    def of(cls, facts: UnitFacts) -> EncodedFacts:
        return cls(facts.cells, _encode_cells(facts.cells), tuple(_items(facts)))


@dataclass(frozen=True, slots=True)
class UnitRows:
    """One unit's stored episodes (kind, state as JSON) and recording counts, as read: plain
    values, cheap to hand to a worker process, made into its case book where it is derived."""

    unit: str
    episodes: tuple[tuple[str, str], ...]
    recordings: tuple[RecordingCount, ...] = ()

    def book(self) -> CaseBook:
        episodes = [episode_of(kind, state) for kind, state in self.episodes]
        kind, key = split_unit(self.unit)
        if kind == APPLICATION:
            # exceptions count only against an application whose proceedings are held
            return CaseBook(episodes).applications().get(key, CaseBook([]))
        return CaseBook(episodes, self.recordings)


class SqlFactRepository:
    """The facts, within one open transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._dialect = dialect_of(session)
        self._insert = insert_for(session)

    # --- the queue ---------------------------------------------------------------------

    async def mark_dirty(self, units: Mapping[str, date]) -> None:
        """Queue the units, each with the earliest day its changes happened on (kept with the
        one already queued, whichever is earlier)."""
        rows = [
            {"unit": u, "queue": q, "since": units[u]} for u in sorted(units) for q in (LIVE, PAST)
        ]
        if not rows:
            return
        insert = self._insert(_DIRTY)
        earlier = func.least if self._dialect == "postgresql" else func.min
        await self._session.execute(
            insert.on_conflict_do_update(
                index_elements=[_DIRTY.c.unit, _DIRTY.c.queue],
                set_={"since": earlier(_DIRTY.c.since, insert.excluded.since)},
            ),
            rows,
        )

    async def clear_dirty(self) -> None:
        await self._session.execute(delete(_DIRTY))

    async def take_dirty(self, queue: str, limit: int) -> dict[str, date]:
        """Take up to ``limit`` units off the queue, each with the earliest day its changes
        happened on (they return to it if the transaction fails); on PostgreSQL, units another
        writer holds are skipped."""
        chosen = select(_DIRTY.c.unit).where(_DIRTY.c.queue == queue).limit(limit)
        if self._dialect != "postgresql":
            # one statement: a write from the start, so SQLite's one writer is taken at once (a
            # read first could not become a write once the consumer had written)
            taken = await self._session.execute(
                delete(_DIRTY)
                .where(_DIRTY.c.queue == queue, _DIRTY.c.unit.in_(chosen.scalar_subquery()))
                .returning(_DIRTY.c.unit, _DIRTY.c.since)
            )
            return {unit: since for unit, since in sorted(taken.all())}
        # chosen first, then deleted by key: as one DELETE with the choice as its subquery, a
        # queue whose statistics were stale was planned as a nested loop over the whole queue,
        # quadratic, and deleting more units than the limit
        locked = chosen.add_columns(_DIRTY.c.since).with_for_update(skip_locked=True)
        found = {unit: since for unit, since in (await self._session.execute(locked)).all()}
        for chunk in chunks(sorted(found)):
            await self._session.execute(
                delete(_DIRTY).where(_DIRTY.c.queue == queue, _DIRTY.c.unit.in_(chunk))
            )
        return dict(sorted(found.items()))

    async def dirty_count(self) -> int:
        return int(await self._session.scalar(select(text("count(*)")).select_from(_DIRTY)) or 0)

    # --- generations ----------------------------------------------------------------------

    async def generations(self) -> list[FactGenerationRecord]:
        rows = await self._session.execute(select(_GENERATION).order_by(_GENERATION.c.as_at))
        return [FactGenerationRecord(**row._mapping) for row in rows]

    async def add_generation(self, as_at: date, rules: str) -> None:
        await self._session.execute(
            self._insert(_GENERATION)
            .values(
                as_at=as_at,
                rules=rules,
                built=False,
                cursor="",
                created_at=datetime.now(UTC),
            )
            .on_conflict_do_nothing()
        )

    async def drop_generation(self, as_at: date) -> None:
        for table in (_ITEM, _UNIT, _TOTAL, _GENERATION):
            await self._session.execute(delete(table).where(table.c.as_at == as_at))

    async def advance(self, as_at: date, cursor: str, built: bool) -> None:
        await self._session.execute(
            _GENERATION.update()
            .where(_GENERATION.c.as_at == as_at)
            .values(cursor=cursor, built=built)
        )

    async def units_after(self, cursor: str, limit: int) -> list[str]:
        """Every unit in order, from just after ``cursor``: each child with an event, and each
        care proceedings application."""
        rows = await self._session.execute(
            text(
                "SELECT unit FROM ("
                " SELECT DISTINCT 'c:' || child_id AS unit FROM case_event"
                " UNION SELECT DISTINCT 'a:' || episode_id FROM episode"
                "  WHERE kind = 'care_proceedings') AS units"
                " WHERE unit > :cursor ORDER BY unit LIMIT :limit"
            ),
            {"cursor": cursor, "limit": limit},
        )
        return [row[0] for row in rows]

    # --- the units' books -------------------------------------------------------------------

    async def book_rows(self, units: Sequence[str]) -> dict[str, UnitRows]:
        """Each unit's stored rows: a child's episodes and recording counts, or an
        application's proceedings and the exceptions recorded against it."""
        children = [key for kind, key in map(split_unit, units) if kind == CHILD]
        applications = [key for kind, key in map(split_unit, units) if kind == APPLICATION]
        episodes: dict[str, list[tuple[str, str]]] = {unit: [] for unit in units}
        recordings: dict[str, list[RecordingCount]] = {}
        for chunk in chunks(children):
            rows = await self._session.execute(
                select(_EPISODE.c.child_id, _EPISODE.c.kind, _EPISODE.c.state).where(
                    _EPISODE.c.child_id.in_(chunk)
                )
            )
            for child, kind, state in rows:
                episodes[unit_of_child(child)].append((kind, state))
            counts = await self._session.execute(
                select(
                    _EVENT.c.team,
                    _EVENT.c.occurred_on,
                    _EVENT.c.recorded_on,
                    text("count(*)"),
                    _EVENT.c.child_id,
                )
                .where(_EVENT.c.child_id.in_(chunk), *RECORDED_EVENT)
                .group_by(
                    _EVENT.c.child_id, _EVENT.c.team, _EVENT.c.occurred_on, _EVENT.c.recorded_on
                )
            )
            for row in counts:
                count = RecordingCount(*row)
                recordings.setdefault(unit_of_child(count.child_id), []).append(count)
        for chunk in chunks(applications):
            rows = await self._session.execute(
                select(_EPISODE.c.episode_id, _EPISODE.c.kind, _EPISODE.c.state).where(
                    _EPISODE.c.kind.in_(("care_proceedings", "exception")),
                    _EPISODE.c.episode_id.in_(chunk),
                )
            )
            for application, kind, state in rows:
                episodes[unit_of_application(application)].append((kind, state))
        return {
            unit: UnitRows(unit, tuple(found), tuple(recordings.get(unit, ())))
            for unit, found in episodes.items()
        }

    # --- writing facts --------------------------------------------------------------------

    async def lock(self, units: Sequence[str]) -> None:
        """Hold the units until the transaction ends. On SQLite, a write that takes the
        database's one write lock now, before anything is read."""
        if self._dialect != "postgresql":
            await self._session.execute(text("UPDATE fact_generation SET built = built WHERE 0"))
            return
        if not units:
            return
        await self._session.execute(
            text(
                "SELECT pg_advisory_xact_lock(k) FROM (SELECT DISTINCT hashtextextended(u, 0) AS k"
                " FROM unnest(CAST(:units AS text[])) AS u ORDER BY k) AS keys"
            ),
            {"units": list(units)},
        )

    async def write(self, as_at: date, derived: Mapping[str, EncodedFacts]) -> Cells:
        """Replace the units' facts as at ``as_at`` (the units locked); return the change to
        the totals."""
        units = sorted(derived)
        old: dict[str, Cells] = {}
        for chunk in chunks(units):
            rows = await self._session.execute(
                select(_UNIT.c.unit, _UNIT.c.cells).where(
                    _UNIT.c.as_at == as_at, _UNIT.c.unit.in_(chunk)
                )
            )
            old.update({unit: _decode_cells(cells) for unit, cells in rows})
        delta: Cells = {}
        for unit in units:
            for key, (n, d) in difference(old.get(unit, {}), derived[unit].cells).items():
                n0, d0 = delta.get(key, (0, 0))
                delta[key] = (n0 + n, d0 + d)
        for chunk in chunks(units):
            await self._session.execute(
                delete(_UNIT).where(_UNIT.c.as_at == as_at, _UNIT.c.unit.in_(chunk))
            )
            await self._session.execute(
                delete(_ITEM).where(_ITEM.c.as_at == as_at, _ITEM.c.unit.in_(chunk))
            )
        unit_rows = [
            {"as_at": as_at, "unit": u, "cells": derived[u].encoded_cells}
            for u in units
            if derived[u].cells
        ]
        if unit_rows:
            await self._session.execute(_UNIT.insert(), unit_rows)
        item_rows = [
            {"as_at": as_at, "unit": u, "kind": kind, "team": team, "body": body}
            for u in units
            for kind, team, body in derived[u].items
        ]
        if item_rows:
            await self._session.execute(_ITEM.insert(), item_rows)
        await self._add_to_totals(as_at, delta)
        return delta

    async def _add_to_totals(self, as_at: date, delta: Cells) -> None:
        rows = [
            {"as_at": as_at, "key": encode_key(key), "numerator": n, "denominator": d}
            for key, (n, d) in sorted(delta.items())
        ]
        if not rows:
            return
        insert = self._insert(_TOTAL)
        await self._session.execute(
            insert.on_conflict_do_update(
                index_elements=[_TOTAL.c.as_at, _TOTAL.c.key],
                set_={
                    "numerator": _TOTAL.c.numerator + insert.excluded.numerator,
                    "denominator": _TOTAL.c.denominator + insert.excluded.denominator,
                },
            ),
            rows,
        )

    # --- reading ----------------------------------------------------------------------------

    async def totals(self, as_at: date) -> Cells:
        rows = await self._session.execute(
            select(_TOTAL.c.key, _TOTAL.c.numerator, _TOTAL.c.denominator).where(
                _TOTAL.c.as_at == as_at,
                (_TOTAL.c.numerator != 0) | (_TOTAL.c.denominator != 0),
            )
        )
        return {decode_key(key): (n, d) for key, n, d in rows}

    async def item_bodies(self, as_at: date, kind: str) -> list[dict[str, Any]]:
        query = select(_ITEM.c.body).where(_ITEM.c.as_at == as_at, _ITEM.c.kind == kind)
        return [json.loads(body) for body in await self._session.scalars(query)]
