"""Who may post, who may see (issue 13), on the real processes in both modes: every route of
every service tried without a credential, with the wrong kind, with a revoked one and with a
token for another team; rotation; the audit log; and no child or worker id where it need not
be."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import UTC, datetime

import httpx
import pytest

from casetime.access import admin
from casetime.access.credentials import ALL_TEAMS
from casetime.access.store import AccessStore
from casetime.events import EventEnvelope
from tests.e2e.conftest import INGEST, System
from tests.support import history as h
from tests.support.credentials import access_command, access_output, bearer

pytestmark = [pytest.mark.infra, pytest.mark.e2e]

OPEN = {"/healthz", "/readyz"}
NORTH, SOUTH = "North Assessment", "South Assessment"
WORKER = "W-e2e-7731"


def store_env(system: System) -> dict[str, str]:
    """What `casetime access` needs to find this system's store."""
    if system.mode == "kafka":
        return {"CASETIME_DATABASE_URL": system.store_url}
    return {"CASETIME_DATA_DIR": str(system.data_dir)}


def routes(base: str) -> list[tuple[str, str]]:
    spec = httpx.get(f"{base}/openapi.json", timeout=10).json()
    found = [(m.upper(), p) for p, ops in spec["paths"].items() for m in ops]
    assert spec["components"]["securitySchemes"]["credential"]["scheme"] == "bearer"
    return [*found, ("GET", "/metrics/")]


def ask(base: str, method: str, path: str, headers: dict[str, str]) -> httpx.Response:
    body: dict[str, list[str]] = {"events": []} if path.endswith("/batch") else {}
    content = json.dumps(body) if method == "POST" else None
    return httpx.request(
        method,
        f"{base}{path}",
        content=content,
        headers={"content-type": "application/json", **headers},
        timeout=60,
    )


def refused(answer: httpx.Response, code: int) -> str:
    assert answer.status_code == code, (answer.request.url, answer.text)
    (error,) = answer.json()["detail"]
    assert error["field"] == "authorization", error
    return str(error["reason"])


def post_all(system: System, service: str, events: list[EventEnvelope], token: str) -> None:
    bodies = [json.loads(e.model_dump_json()) for e in events]
    for body in bodies:
        body["worker_id"] = WORKER
    answer = httpx.post(
        f"{system.url(service)}/events/batch",
        json={"events": bodies},
        headers=bearer(token),
        timeout=30,
    )
    assert answer.status_code == 202, answer.text


def test_every_route_needs_the_right_credential(casetime_system: System) -> None:
    system = casetime_system
    keys = system.credentials
    env = store_env(system)
    referrals_only = made(system.store_url, "source", "Mosaic", {"referrals"})
    # a key and a token that worked, then were revoked (by the command)
    revoked_key = made(system.store_url, "source", "Old CMS", set(INGEST))
    revoked_token = made(system.store_url, "reader", "leaver", {ALL_TEAMS})
    assert httpx.get(f"{system.kpi.url}/kpis", headers=bearer(revoked_token)).status_code == 200
    for credential in (revoked_key, revoked_token):
        access_command(env, "revoke", credential.split("_")[2])
    time.sleep(3)  # CASETIME_ACCESS_REFRESH_SECONDS: 2
    for service in (*INGEST, "kpi"):
        base = system.url(service)
        for method, path in routes(base):
            if path in OPEN:
                assert ask(base, method, path, {}).status_code == 200, (service, path)
                continue
            assert "send a credential" in refused(ask(base, method, path, {}), 401)
            forged = bearer("ct_rd_0123456789ab_" + "x" * 43)
            assert "not one casetime knows" in refused(ask(base, method, path, forged), 401)
            posting = method == "POST" and service != "kpi"
            wrong_kind = keys.reader if posting else keys.source_key
            refused(ask(base, method, path, bearer(wrong_kind)), 403)
            revoked = revoked_key if posting else revoked_token
            assert "revoked" in refused(ask(base, method, path, bearer(revoked)), 401)
            if posting and service != "referrals":
                reason = refused(ask(base, method, path, bearer(referrals_only)), 403)
                assert f"not to {service}" in reason


def test_team_lists_rotation_and_the_audit_log(casetime_system: System) -> None:
    """One system for the three, in order: each looks only at what it did."""
    lists_show_only_the_teams_a_token_may_see(casetime_system)
    rotation_keeps_both_keys_for_the_grace_period_then_only_the_new(casetime_system)
    the_audit_log_holds_exactly_the_posts_and_reads_made(casetime_system)


def made(url: str, kind: str, name: str, scope: set[str]) -> str:
    """A credential made in-process, through the commands' own use cases."""

    async def make() -> str:
        store = AccessStore(url)
        try:
            now = datetime.now(UTC)
            if kind == "source":
                return (await admin.create_source_key(store, name, scope, now)).token
            return (await admin.create_reader_token(store, name, scope, now)).token
        finally:
            await store.dispose()

    return asyncio.run(make())


def lists_show_only_the_teams_a_token_may_see(system: System) -> None:
    keys = system.credentials
    north = [
        h.referral("C-north-1", "REF-N1", "2025-01-06", team=NORTH),
        *h.assessment("C-north-1", "ASM-N1", "REF-N1", "2025-01-07", None, team=NORTH),
    ]
    south = [
        h.referral("C-south-1", "REF-S1", "2025-01-06", team=SOUTH),
        *h.assessment("C-south-1", "ASM-S1", "REF-S1", "2025-01-07", None, team=SOUTH),
    ]
    post_all(system, "referrals", [north[0], south[0]], keys.source_key)
    post_all(system, "assessments", [north[1], south[1]], keys.source_key)
    kpi = system.kpi.url
    everyone = bearer(keys.reader)
    deadline = time.monotonic() + 60

    def children_with_clocks() -> set[str]:
        clocks = httpx.get(f"{kpi}/open-clocks", headers=everyone).json()["clocks"]
        return {c["child_id"] for c in clocks}

    while children_with_clocks() != {"C-north-1", "C-south-1"}:
        assert time.monotonic() < deadline, "the open clocks did not appear"
        time.sleep(0.3)

    north_token = access_command(store_env(system), "reader", "TM North", f"--team={NORTH}")
    board = bearer(keys.board)
    answers: list[str] = []
    for path in ("/open-clocks", "/breaches", "/data-quality"):
        seen = httpx.get(f"{kpi}{path}", headers=bearer(north_token), timeout=60)
        assert seen.status_code == 200, seen.text
        answers.append(seen.text)
        rows = [r for k, v in seen.json().items() if isinstance(v, list) for r in v]
        assert all(r.get("team", NORTH) == NORTH for r in rows if isinstance(r, dict)), rows
        assert "too many" not in refused(
            httpx.get(f"{kpi}{path}", params={"team": SOUTH}, headers=bearer(north_token)), 403
        )
        assert "aggregate figures only" in refused(httpx.get(f"{kpi}{path}", headers=board), 403)
    clocks = json.loads(answers[0])["clocks"]
    assert clocks
    assert {(c["child_id"], c["team"]) for c in clocks} == {("C-north-1", NORTH)}
    assert all("C-south-1" not in text for text in answers)

    # the board sees every team's figures, and /metrics; never a child or worker id there
    figures = httpx.get(f"{kpi}/kpis", params={"team": SOUTH}, headers=board, timeout=60)
    assert figures.status_code == 200
    assert figures.json()["values"]
    metrics = httpx.get(f"{kpi}/metrics/", headers=board, timeout=30)
    assert metrics.status_code == 200
    for text in (figures.text, metrics.text):
        for secret in ("C-north-1", "C-south-1", WORKER):
            assert secret not in text

    # revoked: refused everywhere within a few seconds
    token_id = north_token.split("_")[2]
    access_command(store_env(system), "revoke", token_id)
    deadline = time.monotonic() + 10
    while httpx.get(f"{kpi}/open-clocks", headers=bearer(north_token)).status_code != 401:
        assert time.monotonic() < deadline, "a revoked token still reads"
        time.sleep(0.2)
    assert "revoked" in refused(httpx.get(f"{kpi}/kpis", headers=bearer(north_token)), 401)

    # the logs name no child and no worker
    for process in [*system.ingest.values(), system.kpi]:
        log = process.log_path.read_text(errors="replace")
        for secret in ("C-north-1", "C-south-1", WORKER):
            assert secret not in log, (process.module, secret)


def rotation_keeps_both_keys_for_the_grace_period_then_only_the_new(system: System) -> None:
    env = store_env(system)
    old = access_command(env, "source", "Liquidlogic", "--service=referrals")
    new = access_command(env, "rotate", old.split("_")[2], "--grace-hours=0.0025")  # 9 s
    started = time.monotonic()
    url = f"{system.url('referrals')}/events"
    body = json.loads(h.referral("C-rot-1", "REF-R1", "2025-01-06").model_dump_json())
    for token in (old, new):
        answer = httpx.post(url, json=body, headers=bearer(token), timeout=30)
        assert answer.status_code == 202, answer.text
    assert time.monotonic() - started < 8, "too slow to prove the grace period"
    time.sleep(max(0.0, started + 12 - time.monotonic()))
    assert "expired" in refused(httpx.post(url, json=body, headers=bearer(old)), 401)
    assert httpx.post(url, json=body, headers=bearer(new)).status_code == 202


def the_audit_log_holds_exactly_the_posts_and_reads_made(system: System) -> None:
    env = store_env(system)
    began = datetime.now(UTC)
    key = access_command(env, "source", "Eclipse", "--service=referrals", "--service=placements")
    reader = access_command(env, "reader", "HoS", "--all-teams")
    events = [h.referral(f"C-aud-{n}", f"REF-A{n}", "2025-01-06") for n in range(3)]
    post_all(system, "referrals", events[:2], key)
    post_all(system, "referrals", events[2:], key)
    kpi = system.kpi.url
    assert httpx.get(f"{kpi}/open-clocks", headers=bearer(reader)).status_code == 200
    assert httpx.get(
        f"{kpi}/breaches", params={"kpi": "ASMT-45WD"}, headers=bearer(reader)
    ).is_success
    assert httpx.get(f"{kpi}/kpis", headers=bearer(reader)).status_code == 200  # not a list
    refused(httpx.get(f"{kpi}/open-clocks"), 401)  # refused: not a read

    day = f"{began:%Y-%m-%d}"
    printed = access_output(env, "audit", f"--from={day}", f"--to={day}", "--json")
    entries = [json.loads(line) for line in printed.splitlines()]
    mine = [e for e in entries if e["at"] >= began.isoformat()]
    key_id, reader_id = key.split("_")[2], reader.split("_")[2]
    assert [
        (e["action"], e.get("credential")) for e in mine if e["actor"].startswith("command:")
    ] == [
        ("create", key_id),
        ("create", reader_id),
    ]
    posts = [e for e in mine if e["action"] == "post"]
    assert [(e["actor"], e["event_ids"]) for e in posts] == [
        (key_id, [events[0].event_id, events[1].event_id]),
        (key_id, [events[2].event_id]),
    ]
    reads = [e for e in mine if e["action"] == "read"]
    assert [(e["actor"], e["list"], e["query"]) for e in reads] == [
        (reader_id, "/open-clocks", {}),
        (reader_id, "/breaches", {"kpi": "ASMT-45WD"}),
    ]
