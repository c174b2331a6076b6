"""Making, rotating and revoking credentials: each change and the audit entry naming who made
it are written in one transaction."""

from __future__ import annotations

import getpass
from dataclasses import replace
from datetime import datetime, timedelta

from casetime.access.credentials import Credential, Kind, Minted, mint, rotated
from casetime.access.store import AccessStore, AuditEntry
from casetime.topics import INGEST_SERVICES


def command_actor() -> str:
    return f"command:{getpass.getuser()}"


def _entry(now: datetime, action: str, credential: Credential, **more: object) -> AuditEntry:
    detail = {"credential": credential.id, "name": credential.name, "scope": credential.scope}
    return AuditEntry(now, command_actor(), action, {**detail, **more})


async def create_source_key(
    store: AccessStore, source: str, services: set[str], now: datetime
) -> Minted:
    unknown = services - set(INGEST_SERVICES)
    if unknown:
        raise ValueError(
            f"no ingest service {', '.join(sorted(unknown))}; choose from"
            f" {', '.join(INGEST_SERVICES)}"
        )
    minted = mint(Kind.SOURCE, source, services=frozenset(services), now=now)
    await store.save([minted.credential], [_entry(now, "create", minted.credential)])
    return minted


async def create_reader_token(
    store: AccessStore, holder: str, teams: set[str], now: datetime
) -> Minted:
    minted = mint(Kind.READER, holder, teams=frozenset(teams), now=now)
    await store.save([minted.credential], [_entry(now, "create", minted.credential)])
    return minted


async def _existing(store: AccessStore, credential_id: str) -> Credential:
    for credential in await store.credentials():
        if credential.id == credential_id:
            return credential
    raise LookupError(f"no credential {credential_id!r} (see `casetime access list`)")


async def rotate(
    store: AccessStore, credential_id: str, grace: timedelta, now: datetime
) -> tuple[Credential, Minted]:
    old = await _existing(store, credential_id)
    if not old.valid_at(now):
        raise ValueError(f"credential {credential_id} is no longer valid: make a new one")
    ending, successor = rotated(old, now, grace)
    entry = _entry(
        now, "rotate", old, successor=successor.credential.id, grace_ends=ending.expires_at
    )
    await store.save([ending, successor.credential], [entry])
    return ending, successor


async def revoke(store: AccessStore, credential_id: str, now: datetime) -> Credential:
    old = await _existing(store, credential_id)
    if old.revoked_at is not None:
        return old
    revoked = replace(old, revoked_at=now)
    await store.save([revoked], [_entry(now, "revoke", revoked)])
    return revoked
