"""The access store: credentials and the audit log, two tables in the KPI store's database
(PostgreSQL, or the embedded SQLite file), created by the KPI store's migrations.

The audit log is append-only: the migration's triggers refuse UPDATE, DELETE (and on
PostgreSQL TRUNCATE), and PUBLIC holds no such grant.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from casetime.access.credentials import Credential, Kind

metadata = sa.MetaData()

credential_table = sa.Table(
    "credential",
    metadata,
    sa.Column("id", sa.String(12), primary_key=True),
    sa.Column("kind", sa.String(3), nullable=False),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("services", sa.Text, nullable=False),  # JSON list
    sa.Column("teams", sa.Text, nullable=False),  # JSON list
    sa.Column("secret_hash", sa.Text, nullable=False),
    sa.Column("created_at", sa.String(40), nullable=False),
    sa.Column("expires_at", sa.String(40)),
    sa.Column("revoked_at", sa.String(40)),
    sa.Column("replaces", sa.String(12)),
)

audit_table = sa.Table(
    "audit_entry",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True),
    sa.Column("at", sa.String(40), nullable=False, index=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),  # JSON object
)


@dataclass(frozen=True)
class AuditEntry:
    at: datetime
    actor: str  # a credential id, or "command:<user>" for the commands
    action: str  # post, read, create, rotate, revoke
    detail: dict[str, Any]


def _stamp(moment: datetime | None) -> str | None:
    # ISO 8601 in UTC with a fixed width, so that text order is time order
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _moment(text: str | None) -> datetime | None:
    return (
        None
        if text is None
        else datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    )


def _row(credential: Credential) -> dict[str, Any]:
    return {
        "id": credential.id,
        "kind": credential.kind.value,
        "name": credential.name,
        "services": json.dumps(sorted(credential.services)),
        "teams": json.dumps(sorted(credential.teams)),
        "secret_hash": credential.secret_hash,
        "created_at": _stamp(credential.created_at),
        "expires_at": _stamp(credential.expires_at),
        "revoked_at": _stamp(credential.revoked_at),
        "replaces": credential.replaces,
    }


def _credential(row: sa.Row[Any]) -> Credential:
    return Credential(
        id=row.id,
        kind=Kind(row.kind),
        name=row.name,
        services=frozenset(json.loads(row.services)),
        teams=frozenset(json.loads(row.teams)),
        secret_hash=row.secret_hash,
        created_at=_moment(row.created_at),
        expires_at=_moment(row.expires_at),
        revoked_at=_moment(row.revoked_at),
        replaces=row.replaces,
    )


def access_engine(url: str) -> AsyncEngine:
    if url.startswith("postgresql"):
        # a database that does not answer makes a post's audit entry fail fast, not hang
        return create_async_engine(
            url, pool_size=2, max_overflow=2, pool_pre_ping=True, connect_args={"timeout": 5}
        )
    # a connection per use: an embedded rebuild puts a new file in the old one's place, and
    # the ingest services must open that one, not keep the retired file
    engine = create_async_engine(url, poolclass=NullPool)
    if engine.dialect.name == "sqlite":
        # the KPI service writes the same file: wait for its lock rather than fail
        @sa.event.listens_for(engine.sync_engine, "connect")
        def _busy(connection: Any, _: Any) -> None:
            connection.execute("PRAGMA busy_timeout=30000")

    return engine


class AccessStore:
    def __init__(self, url: str) -> None:
        self.engine = access_engine(url)

    async def dispose(self) -> None:
        await self.engine.dispose()

    async def credentials(self) -> list[Credential]:
        async with self.engine.connect() as conn:
            rows = await conn.execute(sa.select(credential_table))
            return [_credential(r) for r in rows]

    async def save(self, credentials: Sequence[Credential], audit: Sequence[AuditEntry]) -> None:
        """Insert or replace these credentials and log what was done, in one transaction."""
        async with self.engine.begin() as conn:
            for credential in credentials:
                await conn.execute(
                    sa.delete(credential_table).where(credential_table.c.id == credential.id)
                )
                await conn.execute(sa.insert(credential_table).values(_row(credential)))
            await self._audit(conn, audit)

    async def audit(self, entries: Sequence[AuditEntry]) -> None:
        async with self.engine.begin() as conn:
            await self._audit(conn, entries)

    @staticmethod
    async def _audit(conn: Any, entries: Sequence[AuditEntry]) -> None:
        if entries:
            await conn.execute(
                sa.insert(audit_table),
                [
                    {
                        "at": _stamp(e.at),
                        "actor": e.actor,
                        "action": e.action,
                        "detail": json.dumps(e.detail, sort_keys=True, default=str),
                    }
                    for e in entries
                ],
            )

    async def audit_between(self, start: datetime, end: datetime) -> list[AuditEntry]:
        """Entries from ``start`` (inclusive) to ``end`` (exclusive), oldest first."""
        query = (
            sa.select(audit_table)
            .where(audit_table.c.at >= _stamp(start), audit_table.c.at < _stamp(end))
            .order_by(audit_table.c.at, audit_table.c.id)
        )
        async with self.engine.connect() as conn:
            return [_entry(r) for r in await conn.execute(query)]

    async def audit_after(self, after_id: int) -> list[tuple[int, AuditEntry]]:
        """Every entry written after the one numbered ``after_id``, with its number."""
        query = sa.select(audit_table).where(audit_table.c.id > after_id).order_by(audit_table.c.id)
        async with self.engine.connect() as conn:
            return [(r.id, _entry(r)) for r in await conn.execute(query)]


def _entry(row: sa.Row[Any]) -> AuditEntry:
    return AuditEntry(
        _moment(row.at) or datetime.min, row.actor, row.action, json.loads(row.detail)
    )


async def carry_access(source: str, target: str, after_id: int = 0) -> int:
    """Copy the credentials, and the audit entries after ``after_id``, from the store at
    ``source`` into the one at ``target`` (a rebuild's fresh state); the last entry copied."""
    old, new = AccessStore(source), AccessStore(target)
    try:
        entries = await old.audit_after(after_id)
        await new.save(await old.credentials(), [entry for _, entry in entries])
        return entries[-1][0] if entries else after_id
    finally:
        await old.dispose()
        await new.dispose()
