"""Embedded mode: killing the processes during ingest loses no acknowledged event and counts
none twice."""

from __future__ import annotations

import json
import signal
import sqlite3
import threading
import time
from datetime import date
from typing import Any

import httpx
import pytest

from casetime.events import parse_event
from casetime_tools.synthetic import generate
from connectors.posting import route_event
from kpi.adapters.council_file import load_council_config
from kpi.domain.calendar import england_calendar
from kpi.domain.casebook import RuleContext
from kpi.domain.evaluation import evaluate
from kpi.domain.recompute import casebook_from_events, latest_revisions
from tests.e2e.conftest import System
from tests.support import credentials as authed

pytestmark = [pytest.mark.infra, pytest.mark.e2e]

AS_AT = date(2025, 3, 31)


class Sender(threading.Thread):
    """Posts batches as a case system would: a batch not answered 2xx is sent again."""

    def __init__(self, system: System, events: list[dict[str, Any]]) -> None:
        super().__init__(daemon=True)
        self.system = system
        self.events = events
        self.accepted: list[dict[str, Any]] = []
        self.failures = 0

    def run(self) -> None:
        routes: dict[str, str] = {}
        batch: list[tuple[str, dict[str, Any]]] = []
        for event in self.events:
            batch.append((route_event(event, routes), event))
            if len(batch) == 40:
                self.send(batch)
                batch = []
        if batch:
            self.send(batch)

    def send(self, batch: list[tuple[str, dict[str, Any]]]) -> None:
        for service in ("referrals", "assessments", "placements"):
            bodies = [e for s, e in batch if s == service]
            while bodies:
                try:
                    response = authed.post(
                        f"{self.system.url(service)}/events/batch",
                        json={"events": bodies},
                        timeout=10,
                    )
                    if response.status_code == 202:
                        self.accepted.extend(bodies)
                        break
                    assert response.status_code == 503, response.text
                except httpx.HTTPError:
                    pass  # the service is down: try again, as a case system would
                self.failures += 1
                time.sleep(0.2)


def figures(events: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, int]]:
    config = load_council_config(None)
    reference = evaluate(
        casebook_from_events([parse_event(json.dumps(e)) for e in events]),
        RuleContext(AS_AT, england_calendar(), config.rule_settings()),
        config,
    )
    return {
        (f.kpi, f.period): (f.figure.numerator, f.figure.denominator)
        for f in reference.figures
        if f.team == "all"
    }


@pytest.mark.parametrize("casetime_system", ["embedded"], indirect=True)
def test_kill_9_during_ingest_loses_nothing_and_counts_nothing_twice(
    casetime_system: System,
) -> None:
    system = casetime_system
    events = list(
        generate(seed=11, start=date(2024, 4, 1), end=date(2025, 4, 1), children_per_year=150)
    )[:2500]
    sender = Sender(system, events)
    sender.start()
    kills = 0
    for victim in (system.kpi, system.ingest["referrals"], system.kpi):
        time.sleep(1.5)
        victim.stop(signal.SIGKILL)
        kills += 1
        victim.start()
        victim.wait_ready()
    sender.join(timeout=300)
    assert not sender.is_alive()

    # every acknowledged event is in the log, and applied once at its latest revision
    accepted_ids = {e["event_id"] for e in sender.accepted}
    expected_revisions = {
        e.event_id: e.revision
        for e in latest_revisions(parse_event(json.dumps(b)) for b in sender.accepted).values()
    }
    state = sqlite3.connect(system.data_dir / "kpi.sqlite3")
    deadline = time.monotonic() + 180
    while True:
        stored = dict(state.execute("SELECT event_id, revision FROM case_event").fetchall())
        if stored == expected_revisions or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    log = sqlite3.connect(system.data_dir / "events.sqlite3")
    logged = {
        json.loads(value)["event_id"] for (value,) in log.execute("SELECT value FROM event_log")
    }
    print(
        f"\nkills={kills} posted={len(events)} accepted={len(sender.accepted)} "
        f"distinct={len(accepted_ids)} retried={sender.failures} stored={len(stored)}"
    )
    assert kills == 3
    assert len(sender.accepted) == len(events)
    assert accepted_ids <= logged  # nothing acknowledged is missing from the log
    assert stored == expected_revisions  # applied once each, at its latest revision

    authed.post(f"{system.kpi.url}/kpis/refresh", timeout=120).raise_for_status()
    live = authed.get(
        f"{system.kpi.url}/kpis",
        params={"as_at": AS_AT.isoformat(), "level": "council"},
        timeout=120,
    ).json()["values"]
    assert {(v["kpi"], v["period"]): (v["numerator"], v["denominator"]) for v in live} == figures(
        sender.accepted
    )
