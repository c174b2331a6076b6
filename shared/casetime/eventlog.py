"""The embedded event log: a durable, append-only local log with consumer offsets, in place of
Kafka when none is configured.

It is one SQLite file in WAL mode with synchronous=FULL, so an append is on disk before the
ingest service answers 202 and survives the process being killed. Several processes (the three
ingest services and the KPI service) share it; SQLite's locking orders their writes.
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from casetime.events import EventEnvelope
from casetime.publishing import PublishUnavailableError, encode
from casetime.settings import private_file

_SCHEMA = """
CREATE TABLE IF NOT EXISTS event_log (
    log_offset INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    appended_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE TABLE IF NOT EXISTS consumer_offset (
    consumer_group TEXT PRIMARY KEY,
    next_offset INTEGER NOT NULL
);
"""


@dataclass(frozen=True, slots=True)
class LogRecord:
    offset: int
    topic: str
    key: bytes
    value: bytes


class EventLog:
    """Blocking SQLite access, serialised by a lock; call through the async methods."""

    def __init__(self, path: Path) -> None:
        private_file(path)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed append is on disk, not only in the OS cache
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(_SCHEMA)

    def _append(self, rows: Sequence[tuple[str, bytes, bytes]]) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    "INSERT INTO event_log (topic, key, value) VALUES (?, ?, ?)", rows
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _read(self, group: str, limit: int) -> list[LogRecord]:
        with self._lock:
            start = self._next_offset(group)
        return self._read_from(start, limit)

    def _read_from(self, start: int, limit: int) -> list[LogRecord]:
        with self._lock:
            rows = self._db.execute(
                "SELECT log_offset, topic, key, value FROM event_log"
                " WHERE log_offset >= ? ORDER BY log_offset LIMIT ?",
                (start, limit),
            ).fetchall()
        return [LogRecord(*row) for row in rows]

    def _next_offset(self, group: str) -> int:
        row = self._db.execute(
            "SELECT next_offset FROM consumer_offset WHERE consumer_group = ?", (group,)
        ).fetchone()
        return int(row[0]) if row else 0

    def _commit(self, group: str, next_offset: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO consumer_offset (consumer_group, next_offset) VALUES (?, ?)"
                " ON CONFLICT (consumer_group) DO UPDATE SET next_offset = excluded.next_offset",
                (group, next_offset),
            )

    def _end_offset(self) -> int:
        """How many records were ever appended (offsets run from 1, and are never reused)."""
        with self._lock:
            row = self._db.execute("SELECT COALESCE(MAX(log_offset), 0) FROM event_log").fetchone()
        return int(row[0])

    async def append(self, rows: Sequence[tuple[str, bytes, bytes]]) -> None:
        await asyncio.to_thread(self._append, rows)

    async def read(self, group: str, limit: int = 500) -> list[LogRecord]:
        return await asyncio.to_thread(self._read, group, limit)

    async def read_from(self, offset: int, limit: int = 500) -> list[LogRecord]:
        return await asyncio.to_thread(self._read_from, offset, limit)

    async def commit(self, group: str, next_offset: int) -> None:
        await asyncio.to_thread(self._commit, group, next_offset)

    async def end_offset(self) -> int:
        return await asyncio.to_thread(self._end_offset)

    async def committed(self, group: str) -> int:
        def committed() -> int:
            with self._lock:
                return self._next_offset(group)

        return await asyncio.to_thread(committed)

    def close(self) -> None:
        with self._lock:
            self._db.close()


class EmbeddedPublisher:
    """The publisher port over the embedded log: 202 only after the append is on disk."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._log: EventLog | None = None

    async def start(self) -> None:
        self._log = EventLog(self._path)

    async def stop(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None

    async def ready(self) -> bool:
        return self._log is not None

    async def publish(self, topic: str, events: Sequence[EventEnvelope]) -> None:
        if self._log is None:
            raise PublishUnavailableError("the event log is not open")
        rows = []
        for event in events:
            key, value, _ = encode(event)
            rows.append((topic, key, value))
        try:
            await self._log.append(rows)
        except sqlite3.Error as exc:
            raise PublishUnavailableError(str(exc)) from exc
