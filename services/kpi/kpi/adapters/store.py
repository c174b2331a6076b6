"""The case store adapter: SQLAlchemy (asyncpg on PostgreSQL) behind the CaseRepository port."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import and_, delete, event, func, select, text, tuple_, update
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from casetime.events import EventEnvelope, parse_event
from kpi.adapters.fact_store import SqlFactRepository
from kpi.adapters.sql import LIVE_EVENT, RECORDED_EVENT, chunks, episode_of, insert_for
from kpi.adapters.tables import CaseEventRecord, DeadLetterRecord, EpisodeRecord, VoidRecord
from kpi.domain.casebook import CaseBook, RecordingCount
from kpi.domain.episodes import AnyEpisode
from kpi.service import EpisodeKey, KafkaPosition, Recorded, RecordResult, episode_key

_EVENT = CaseEventRecord.__table__  # type: ignore[attr-defined]
_VOID = VoidRecord.__table__  # type: ignore[attr-defined]
_EPISODE = EpisodeRecord.__table__  # type: ignore[attr-defined]
_DEAD = DeadLetterRecord.__table__  # type: ignore[attr-defined]


def _now() -> datetime:
    return datetime.now(UTC)


def _event_row(
    event: EventEnvelope, position: KafkaPosition | None, body: str | None = None
) -> dict[str, Any]:
    key = episode_key(event)
    return {
        "event_id": event.event_id,
        "revision": event.revision,
        "event_type": event.event_type,
        "episode_kind": key[0] if key else None,
        "episode_id": event.episode_id,
        "child_id": event.child_id,
        "occurred_on": event.occurred_on,
        "recorded_on": event.recorded_on,
        "team": event.team,
        "source_dataset": event.source_dataset,
        "body": body if body is not None else event.model_dump_json(),
        "kafka_topic": position.topic if position else None,
        "kafka_partition": position.partition if position else None,
        "kafka_offset": position.offset if position else None,
        "applied_at": _now(),
    }


def _printable(text: str) -> str:
    # PostgreSQL text cannot hold NUL; a poison message may carry any bytes
    return text.replace("\x00", "\\x00")


class SqlCaseRepository:
    """CaseRepository over one open AsyncSession (one transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._insert = insert_for(session)
        self._voided_ids: set[str] | None = None
        self.facts = SqlFactRepository(session)
        # each event of the batch as received, by (event id, revision): its body is stored as
        # is, not encoded again, and read back for a fold it is not parsed again
        self._received: dict[tuple[str, int], tuple[str, EventEnvelope]] = {}

    def received(self, event: EventEnvelope, body: str) -> None:
        """``event`` was parsed from ``body`` (the first body wins for an id and revision)."""
        self._received.setdefault((event.event_id, event.revision), (body, event))

    def _row(self, event: EventEnvelope, position: KafkaPosition | None) -> dict[str, Any]:
        held = self._received.get((event.event_id, event.revision))
        return _event_row(event, position, held[0] if held is not None else None)

    def _parsed(self, event_id: str, revision: int, body: str) -> EventEnvelope:
        """The stored body as an event: the one parsed on receipt when it is that body."""
        held = self._received.get((event_id, revision))
        return held[1] if held is not None and held[0] == body else parse_event(body)

    async def _pending_voids(self) -> set[str]:
        """Ids named by a void, read once per transaction: voids are rare, events many."""
        if self._voided_ids is None:
            self._voided_ids = set(await self._session.scalars(select(_VOID.c.voided_event_id)))
        return self._voided_ids

    async def insert_new(
        self, items: Sequence[tuple[EventEnvelope, KafkaPosition | None]]
    ) -> set[str]:
        """Insert the events whose ids are not held yet, in one statement per chunk; return the
        ids inserted. Each id must appear once in ``items``."""
        inserted: set[str] = set()
        # one statement with many parameter sets: compiled once and cached, unlike a
        # multi-values INSERT built for each chunk
        statement = self._insert(_EVENT).on_conflict_do_nothing().returning(_EVENT.c.event_id)
        for chunk in chunks(items, 1_000):
            rows = [self._row(event, position) for event, position in chunk]
            result = await self._session.execute(statement, rows)
            inserted.update(result.scalars())
        for event_id in inserted & await self._pending_voids():
            void = await self._session.scalar(
                select(_VOID.c.void_event_id).where(_VOID.c.voided_event_id == event_id)
            )
            await self._mark_voided(event_id, void)
        return inserted

    async def record_event(
        self, event: EventEnvelope, position: KafkaPosition | None
    ) -> RecordResult:
        values = self._row(event, position)
        inserted = await self._session.execute(
            self._insert(_EVENT).values(**values).on_conflict_do_nothing()
        )
        if inserted.rowcount == 1:  # type: ignore[attr-defined]
            if event.event_id in await self._pending_voids():
                void = await self._session.scalar(
                    select(_VOID.c.void_event_id).where(_VOID.c.voided_event_id == event.event_id)
                )
                await self._mark_voided(event.event_id, void)
            return RecordResult(Recorded.NEW)
        held = (
            await self._session.execute(
                select(_EVENT.c.revision, _EVENT.c.body)
                .where(_EVENT.c.event_id == event.event_id)
                .with_for_update()
            )
        ).one()
        if held.revision == event.revision:
            return RecordResult(Recorded.DUPLICATE)
        if held.revision > event.revision:
            return RecordResult(Recorded.STALE)
        await self._session.execute(
            update(_EVENT).where(_EVENT.c.event_id == event.event_id).values(**values)
        )
        return RecordResult(Recorded.REPLACED, previous=parse_event(held.body))

    async def _mark_voided(self, event_id: str, void_event_id: str | None) -> None:
        await self._session.execute(
            update(_EVENT).where(_EVENT.c.event_id == event_id).values(voided_by=void_event_id)
        )

    async def void_event(self, voided_event_id: str, void_event_id: str) -> EventEnvelope | None:
        (await self._pending_voids()).add(voided_event_id)
        await self._session.execute(
            self._insert(_VOID)
            .values(voided_event_id=voided_event_id, void_event_id=void_event_id)
            .on_conflict_do_nothing()
        )
        body = await self._session.scalar(
            select(_EVENT.c.body).where(_EVENT.c.event_id == voided_event_id)
        )
        if body is None:
            return None
        await self._mark_voided(voided_event_id, void_event_id)
        return parse_event(body)

    async def unvoid_event(self, voided_event_id: str) -> EventEnvelope | None:
        (await self._pending_voids()).discard(voided_event_id)
        await self._session.execute(delete(_VOID).where(_VOID.c.voided_event_id == voided_event_id))
        body = await self._session.scalar(
            select(_EVENT.c.body).where(_EVENT.c.event_id == voided_event_id)
        )
        if body is None:
            return None
        await self._mark_voided(voided_event_id, None)
        return parse_event(body)

    async def live_events(self, key: EpisodeKey) -> Sequence[EventEnvelope]:
        kind, episode_id, child_id = key
        rows = await self._session.scalars(
            select(_EVENT.c.body).where(
                and_(
                    _EVENT.c.episode_kind == kind,
                    _EVENT.c.episode_id == episode_id,
                    _EVENT.c.child_id == child_id,
                    *LIVE_EVENT,
                )
            )
        )
        return [parse_event(body) for body in rows]

    async def save_episode(self, key: EpisodeKey, episode: AnyEpisode | None) -> None:
        kind, episode_id, child_id = key
        where = and_(
            _EPISODE.c.kind == kind,
            _EPISODE.c.episode_id == episode_id,
            _EPISODE.c.child_id == child_id,
        )
        await self._session.execute(delete(_EPISODE).where(where))
        if episode is None:
            return
        await self._session.execute(
            _EPISODE.insert().values(
                kind=kind,
                episode_id=episode_id,
                child_id=child_id,
                team=episode.team,
                opened_on=episode.opened_on,
                closed_on=episode.closed_on,
                referral_id=episode.linked_referral_id,
                state=episode.model_dump_json(),
                updated_at=_now(),
            )
        )

    async def live_events_of(
        self, keys: Sequence[EpisodeKey]
    ) -> dict[EpisodeKey, list[EventEnvelope]]:
        found: dict[EpisodeKey, list[EventEnvelope]] = defaultdict(list)
        for chunk in chunks(keys):
            rows = await self._session.execute(
                select(
                    _EVENT.c.episode_kind,
                    _EVENT.c.episode_id,
                    _EVENT.c.child_id,
                    _EVENT.c.event_id,
                    _EVENT.c.revision,
                    _EVENT.c.body,
                ).where(
                    tuple_(_EVENT.c.episode_kind, _EVENT.c.episode_id, _EVENT.c.child_id).in_(
                        chunk
                    ),
                    *LIVE_EVENT,
                )
            )
            for kind, episode_id, child_id, event_id, revision, body in rows:
                found[(kind, episode_id, child_id)].append(self._parsed(event_id, revision, body))
        return found

    async def save_episodes(self, episodes: Mapping[EpisodeKey, AnyEpisode | None]) -> None:
        gone = [key for key, episode in episodes.items() if episode is None]
        for chunk in chunks(gone):
            await self._session.execute(
                delete(_EPISODE).where(
                    tuple_(_EPISODE.c.kind, _EPISODE.c.episode_id, _EPISODE.c.child_id).in_(chunk)
                )
            )
        now = _now()
        rows = [
            {
                "kind": kind,
                "episode_id": episode_id,
                "child_id": child_id,
                "team": episode.team,
                "opened_on": episode.opened_on,
                "closed_on": episode.closed_on,
                "referral_id": episode.linked_referral_id,
                "state": episode.model_dump_json(),
                "updated_at": now,
            }
            for (kind, episode_id, child_id), episode in episodes.items()
            if episode is not None
        ]
        if not rows:
            return
        # one statement compiled once, many parameter sets: an episode's row replaced in place
        upsert = self._insert(_EPISODE)
        columns = ("team", "opened_on", "closed_on", "referral_id", "state", "updated_at")
        await self._session.execute(
            upsert.on_conflict_do_update(
                index_elements=[_EPISODE.c.kind, _EPISODE.c.episode_id, _EPISODE.c.child_id],
                set_={name: upsert.excluded[name] for name in columns},
            ),
            rows,
        )

    async def record_dead_letter(
        self, position: KafkaPosition, reason: str, raw: bytes | None
    ) -> None:
        await self._session.execute(
            _DEAD.insert().values(
                kafka_topic=position.topic,
                kafka_partition=position.partition,
                kafka_offset=position.offset,
                reason=_printable(reason),
                raw=_printable((raw or b"").decode("utf-8", errors="replace")),
                received_at=_now(),
            )
        )


class CaseStore:
    """Owns the engine; hands out one repository per transaction."""

    def __init__(self, database_url: str) -> None:
        # an error's message leaves out the statement's values: they hold child ids
        self.engine: AsyncEngine = create_async_engine(
            database_url, pool_pre_ping=True, hide_parameters=True
        )
        if self.engine.dialect.name == "sqlite":
            _configure_sqlite(self.engine)
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[SqlCaseRepository]:
        """Commits on success, rolls back on any error."""
        async with self._sessions() as session, session.begin():
            yield SqlCaseRepository(session)

    async def ping(self) -> bool:
        try:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    async def load_casebook(self) -> CaseBook:
        """Every episode, and the recording counts of every live event."""
        async with self._sessions() as session:
            rows = await session.execute(select(_EPISODE.c.kind, _EPISODE.c.state))
            episodes = [episode_of(kind, state) for kind, state in rows]
            counts = await session.execute(
                select(_EVENT.c.team, _EVENT.c.occurred_on, _EVENT.c.recorded_on, func.count())
                .where(*RECORDED_EVENT)
                .group_by(_EVENT.c.team, _EVENT.c.occurred_on, _EVENT.c.recorded_on)
            )
            recordings = [RecordingCount(*row) for row in counts]
        return CaseBook(episodes, recordings)

    async def dispose(self) -> None:
        await self.engine.dispose()


def _configure_sqlite(engine: AsyncEngine) -> None:
    """Embedded mode. WAL with synchronous=NORMAL keeps every committed transaction when the
    process is killed (an operating-system crash may lose the last ones; the state can be
    rebuilt from the event log). The driver's own transaction handling is switched off so that
    SQLAlchemy's BEGIN and SAVEPOINTs mean what they say (the SQLAlchemy documentation's
    recipe for pysqlite and aiosqlite)."""

    @event.listens_for(engine.sync_engine, "connect")
    def on_connect(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")
