"""Access control through the real store (SQLite and the real PostgreSQL) and a real ingest
app: who may post, rotation, revocation, limits, the audit log (issue 13)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlalchemy.ext.asyncio import create_async_engine

from casetime.access import admin
from casetime.access.gate import Gate
from casetime.access.limits import RateLimiter
from casetime.access.store import AccessStore, AuditEntry
from casetime.events import EventEnvelope
from casetime.examples import example_event
from casetime.ingest import create_app
from casetime.settings import IngestSettings
from kpi.migrations import upgrade_to_head
from tests.support.credentials import bearer

NOW = datetime.now(UTC)


@dataclass
class Published:
    events: list[EventEnvelope] = field(default_factory=list)

    async def start(self) -> None: ...
    async def stop(self) -> None: ...
    async def ready(self) -> bool:
        return True

    async def publish(self, topic: str, events: Any) -> None:
        self.events.extend(events)


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'kpi.sqlite3'}"
    else:
        url = request.getfixturevalue("database_url")
    upgrade_to_head(url)
    return url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[AccessStore]:
    store = AccessStore(store_url)
    yield store
    await store.dispose()


def ingest_client(url: str, published: Published, **settings: Any) -> Iterator[TestClient]:
    app = create_app("referrals", IngestSettings(database_url=url, **settings), published)
    with TestClient(app) as client:
        yield client


async def test_the_audit_log_refuses_updates_and_deletes(store: AccessStore) -> None:
    entry = AuditEntry(NOW, "command:test", "create", {"credential": "x"})
    await store.audit([entry])
    for statement in ("UPDATE audit_entry SET actor = 'someone else'", "DELETE FROM audit_entry"):
        engine = create_async_engine(str(store.engine.url.render_as_string(hide_password=False)))
        try:
            with pytest.raises(sa.exc.DBAPIError, match="append-only"):
                async with engine.begin() as conn:
                    await conn.execute(sa.text(statement))
        finally:
            await engine.dispose()
    assert [e.actor for e in await store.audit_between(NOW - timedelta(1), NOW + timedelta(1))] == [
        "command:test"
    ]


async def test_a_credential_made_after_the_last_read_works_at_once(store: AccessStore) -> None:
    # credentials read an hour apart: only the miss can make the new one known
    gate = Gate(store, RateLimiter({}, time.monotonic), refresh_seconds=3600)
    first = await admin.create_reader_token(store, "first", set(), NOW)
    assert (await gate.reader({"authorization": f"Bearer {first.token}"})).id == first.credential.id
    second = await admin.create_reader_token(store, "second", set(), NOW)
    await asyncio.sleep(0.3)  # MISS_RELOAD_SECONDS
    found = await gate.reader({"authorization": f"Bearer {second.token}"})
    assert found.id == second.credential.id


async def test_rotation_and_revocation_through_the_gate(store: AccessStore) -> None:
    moment = [NOW]
    gate = Gate(store, RateLimiter({}, time.monotonic), refresh_seconds=0.01)
    gate.now = lambda: moment[0]
    old = await admin.create_source_key(store, "Mosaic", {"referrals"}, NOW)
    header = {"authorization": f"Bearer {old.token}"}
    assert (await gate.source_for(header, "referrals")).id == old.credential.id
    _, new = await admin.rotate(store, old.credential.id, timedelta(hours=1), NOW)
    await asyncio.sleep(0.02)
    moment[0] = NOW + timedelta(minutes=59)
    new_header = {"authorization": f"Bearer {new.token}"}
    assert (await gate.source_for(header, "referrals")).id == old.credential.id
    assert (await gate.source_for(new_header, "referrals")).id == new.credential.id
    moment[0] = NOW + timedelta(hours=1)
    with pytest.raises(Exception, match="expired") as refused:
        await gate.source_for(header, "referrals")
    assert getattr(refused.value, "status_code", None) == 401
    assert (await gate.source_for(new_header, "referrals")).id == new.credential.id
    await admin.revoke(store, new.credential.id, moment[0])
    await asyncio.sleep(0.02)
    with pytest.raises(Exception, match="revoked"):
        await gate.source_for(new_header, "referrals")
    actions = [e.action for e in await store.audit_between(NOW, NOW + timedelta(days=1))]
    assert actions == ["create", "rotate", "revoke"]
    await gate.close()


async def test_posting_needs_a_source_key_for_this_service_and_is_audited(
    store: AccessStore, store_url: str
) -> None:
    referrals = await admin.create_source_key(store, "Liquidlogic LCS", {"referrals"}, NOW)
    placements = await admin.create_source_key(store, "Eclipse", {"placements"}, NOW)
    reader = await admin.create_reader_token(store, "analyst", {"*"}, NOW)
    published = Published()
    body = example_event("referral_received")

    def post(client: TestClient, headers: dict[str, str]) -> Any:
        return client.post("/events", json=body, headers=headers)

    for client in ingest_client(store_url, published, post_rate_per_second=1.0):
        cases = [
            ({}, 401, "send a credential"),
            ({"Authorization": "Basic dXNlcjpwYXNz"}, 401, "send a credential"),
            (bearer("ct_src_0123456789ab_" + "x" * 43), 401, "not one casetime knows"),
            (bearer(placements.token), 403, "may post to placements, not to referrals"),
            (bearer(reader.token), 403, "use a source key"),
        ]
        for headers, code, why in cases:
            answer = post(client, headers)
            assert answer.status_code == code, answer.text
            (error,) = answer.json()["detail"]
            assert error["field"] == "authorization"
            assert why in error["reason"]
            if code == 401:
                assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        assert published.events == []  # nothing refused was published
        # the key's source name is stamped over what the sender wrote
        assert post(client, bearer(referrals.token)).status_code == 202
        assert [e.source_system for e in published.events] == ["Liquidlogic LCS"]
        assert body["source_system"] != "Liquidlogic LCS"
        # a burst of 2 at one a second: the third waits, told for how long
        assert post(client, bearer(referrals.token)).status_code == 202
        limited = post(client, bearer(referrals.token))
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "1"
        assert len(published.events) == 2
        # /metrics needs a reader token; health checks do not
        assert client.get("/metrics/").status_code == 401
        assert client.get("/metrics/", headers=bearer(referrals.token)).status_code == 403
        assert client.get("/metrics/", headers=bearer(reader.token)).status_code == 200
        assert client.get("/healthz").status_code == 200
        # guessing a known key's secret costs an argon2 hash each time: limited per key
        guess = bearer(f"ct_src_{referrals.credential.id}_" + "g" * 43)
        guesses = [post(client, guess).status_code for _ in range(25)]
        assert set(guesses) == {401, 429}
        assert guesses[:20] == [401] * 20
        # the key itself, proven before, still posts (its bucket for posting has refilled)
        await asyncio.sleep(1.1)
        assert post(client, bearer(referrals.token)).status_code == 202
    posts = [e for e in await store.audit_between(NOW, datetime.now(UTC)) if e.action == "post"]
    assert [(e.actor, e.detail["event_ids"]) for e in posts] == [
        (referrals.credential.id, [body["event_id"]])
    ] * 3


async def test_expensive_reads_are_limited_per_token(tmp_path: Path) -> None:
    """A past date or a refresh is a full evaluation: ten in a burst, then 429 with the wait."""
    from kpi.app import create_app as create_kpi_app
    from kpi.settings import KpiSettings

    settings = KpiSettings(
        data_dir=tmp_path, expensive_rate_per_second=0.05, kpi_as_at="2025-02-14"
    )
    await asyncio.to_thread(upgrade_to_head, settings.state_store_url)
    store = AccessStore(settings.state_store_url)
    board = await admin.create_reader_token(store, "board", set(), NOW)
    other = await admin.create_reader_token(store, "analyst", set(), NOW)
    await store.dispose()

    def exercise() -> list[tuple[int, str | None]]:
        with TestClient(create_kpi_app(settings), headers=bearer(board.token)) as client:
            deadline = time.monotonic() + 60
            while client.get("/readyz").status_code != 200:  # the first figures
                assert time.monotonic() < deadline
                time.sleep(0.1)
            asked = [client.get("/kpis", params={"as_at": "2025-01-31"}) for _ in range(10)]
            asked.append(client.post("/kpis/refresh"))
            asked.append(client.get("/kpis"))  # the live figures cost nothing: not limited
            asked.append(client.get("/kpis?as_at=2025-01-31", headers=bearer(other.token)))
            return [(a.status_code, a.headers.get("Retry-After")) for a in asked]

    answers = await asyncio.to_thread(exercise)
    assert answers == [(200, None)] * 10 + [(429, "20"), (200, None), (200, None)]
