"""Replay and rebuild: the KPI state rebuilt from the start of the event log equals the live
one, and the service carries on from it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from casetime.access.store import AccessStore, AuditEntry
from casetime.examples import example_event
from casetime.topics import owner_of
from tests.e2e.conftest import System
from tests.support import credentials as authed
from tests.support.events import event_dict
from tests.support.processes import scrape

pytestmark = [pytest.mark.infra, pytest.mark.e2e]

TYPES = (
    "referral_received",
    "assessment_started",
    "assessment_completed",
    "strategy_discussion_held",
    "section_47_started",
    "initial_cp_conference_held",
    "cp_plan_started",
    "care_proceedings_issued",
    "care_proceedings_concluded",
)


def history(children: int) -> list[dict[str, Any]]:
    """The contract's example story, once per child."""
    events = []
    for n in range(children):
        for event_type in TYPES:
            event = example_event(event_type)
            event.update(event_id=f"{event['event_id']}-{n}", child_id=f"C-R{n}")
            events.append(event)
    return events


def post(system: System, events: list[dict[str, Any]]) -> None:
    for service in ("referrals", "assessments", "placements"):
        mine = [e for e in events if owner_of(e["event_type"]) == service]
        if mine:
            response = authed.post(
                f"{system.url(service)}/events/batch", json={"events": mine}, timeout=60
            )
            assert response.status_code == 202, response.text


def applied(system: System) -> float:
    return sum(
        value for (name, _), value in scrape(system.kpi.url).items()
        if name == "casetime_kpi_events_total"
    )  # fmt: skip


def council_figures(system: System) -> dict[tuple[str, str], tuple[int, int]]:
    authed.post(f"{system.kpi.url}/kpis/refresh", timeout=60).raise_for_status()
    values = authed.get(
        f"{system.kpi.url}/kpis", params={"level": "council", "as_at": "2025-12-31"}, timeout=60
    ).json()["values"]
    return {(v["kpi"], v["period"]): (v["numerator"], v["denominator"]) for v in values}


def wait_for(condition: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.25)


def test_rebuild_from_the_log_equals_the_live_state_and_the_service_carries_on(
    casetime_system: System,
) -> None:
    system = casetime_system
    first = history(5)
    post(system, first)
    wait_for(lambda: applied(system) >= len(first))
    before = council_figures(system)
    assert any(d for _, d in before.values())
    audited = asyncio.run(audit_log(system.store_url))
    assert [e.action for e in audited].count("post") == 3

    env = {**os.environ, **system.kpi.env}
    if system.mode == "embedded":
        system.kpi.stop()  # embedded rebuilds need the service stopped
    result = subprocess.run(
        [sys.executable, "-m", "kpi", "rebuild"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"rebuilt from {len(first)} events" in result.stdout
    assert "0 differing" in result.stdout
    if system.mode == "embedded":
        system.kpi.start()
    system.kpi.wait_ready()
    assert council_figures(system) == before

    # The service goes on applying new events on top of the rebuilt state.
    more = [
        event_dict(
            "referral_received",
            child_id=f"C-N{n}",
            episode_id=f"REF-N{n}",
            occurred_at="2025-12-01T10:00:00Z",
            payload={"referral_source": "1A"},
        )
        for n in range(3)
    ]
    # the credentials and the audit log are not in the event log: they came with the state,
    # so the same keys post (above) and read, and the log holds what it held, then more
    post(system, more)
    wait_for(lambda: council_figures(system)[("RATE-CIN", "as_at")][0] == 5 + 3, timeout=60)
    after = asyncio.run(audit_log(system.store_url))
    assert after[: len(audited)] == audited
    assert [e.action for e in after[len(audited) :]] == ["post"]


async def audit_log(url: str) -> list[AuditEntry]:
    store = AccessStore(url)
    try:
        return await store.audit_between(datetime(2000, 1, 1, tzinfo=UTC), datetime.now(UTC))
    finally:
        await store.dispose()
