"""Issue 10, tried as a hostile sender would, through the real HTTP path to the real processes
(Kafka and PostgreSQL, and embedded): every finding answered at the door or set aside by the
consumer, and a valid event posted after each is still applied."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from casetime.eventlog import EventLog
from casetime.examples import example_event
from casetime.topics import topic_for
from tests.e2e.conftest import System
from tests.e2e.test_walking_skeleton import events_applied, wait_for
from tests.support import credentials as authed
from tests.support.events import event_dict
from tests.support.processes import scrape

pytestmark = [pytest.mark.infra, pytest.mark.e2e]

JSON = {"content-type": "application/json"}
IN_3_DAYS = (datetime.now(UTC) + timedelta(days=3)).isoformat()

# (what, fields replaced in a valid assessment_started event, the field the 422 must name)
REFUSED_AT_THE_DOOR: list[tuple[str, dict[str, Any], str]] = [
    ("recorded in year 1", {"recorded_at": "0001-01-01T00:00:00Z"}, "recorded_at"),
    ("recorded in year 1, +14:00", {"recorded_at": "0001-01-01T00:00:00+14:00"}, "recorded_at"),
    ("recorded in 9999, -14:00", {"recorded_at": "9999-12-31T23:59:59-14:00"}, "recorded_at"),
    ("happened in year 1", {"occurred_at": "0001-01-01T00:00:00Z"}, "occurred_at"),
    ("happened on 1 Jan of year 1", {"occurred_at": "0001-01-01"}, "occurred_at"),
    ("happened before 1990", {"occurred_at": "1989-12-31"}, "occurred_at"),
    ("recorded 3 days from now", {"recorded_at": IN_3_DAYS}, "recorded_at"),
    ("happens in 2099", {"occurred_at": "2099-01-01"}, "occurred_at"),
    ("a revision of 2**63", {"revision": 2**63}, "revision"),
    ("a revision as a string", {"revision": "2"}, "revision"),
    ("a date as a number", {"occurred_at": 1767225600}, "occurred_at"),
    ("a child id that is a name", {"child_id": "John.Smith"}, "child_id"),
    ("a child id that is an NHS number", {"child_id": "9434765919"}, "child_id"),
    ("a worker id that is a name", {"worker_id": "Jane_Doe"}, "worker_id"),
]


def _valid(n: int) -> dict[str, Any]:
    return event_dict(
        "assessment_started",
        child_id=f"H-{n}",
        episode_id=f"ASMT-H-{n}",
        occurred_at="2025-02-03",
        team="North Assessment",
        payload={"referral_id": f"REF-H-{n}"},
    )


def _rejected_requests(system: System) -> float:
    samples = scrape(system.url("assessments"))
    key = ("casetime_ingest_requests_rejected_total", (("service", "assessments"),))
    return samples.get(key, 0.0)


def _post(system: System, body: Any, **kwargs: Any) -> httpx.Response:
    return authed.post(f"{system.url('assessments')}/events", json=body, timeout=30, **kwargs)


def test_hostile_input_is_refused_or_set_aside_and_nothing_stops_the_consumer(
    casetime_system: System,
) -> None:
    """One system for the three, in order (the poison last): each counts only what it did."""
    bad_events_bodies_and_headers_are_refused(casetime_system)
    queries_outside_the_calendar_are_refused_and_team_labels_stay_closed(casetime_system)
    poison_on_the_log_is_set_aside_and_the_partition_moves_on(casetime_system)


def bad_events_bodies_and_headers_are_refused(system: System) -> None:
    applied = events_applied(system, "new")
    for n, (what, change, field) in enumerate(REFUSED_AT_THE_DOOR):
        response = _post(system, {**_valid(n), **change})
        assert response.status_code == 422, (what, response.text)
        assert field in [e["field"] for e in response.json()["detail"]], (what, response.text)
        # and a valid event after it is applied
        assert _post(system, _valid(100 + n)).status_code == 202
        applied += 1
    wait_for(lambda: events_applied(system, "new") == applied, "every valid event applied")

    # free text only where the catalogue allows it, and never with personal data in it
    reason = example_event("exception_reason_recorded")
    reason["payload"] = {
        "kpi": "ASMT-45WD",
        "reason": "other",
        "other_text": "Jane Doe, NHS 943 476 5919, 12 High St",
    }
    response = _post(system, reason)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["detail"]] == ["payload.other_text"]

    # bodies and headers: each answered in the one error model, and counted
    before = _rejected_requests(system)
    url = f"{system.url('assessments')}/events"
    cases: list[tuple[str, httpx.Response, int]] = [
        ("no content type", authed.post(url, content=json.dumps(_valid(1))), 415),
        (
            "text/plain",
            authed.post(url, content="{}", headers={"content-type": "text/plain"}),
            415,
        ),
        ("3 MB", authed.post(url, json={"pad": "x" * 3_000_000}), 413),
        (
            "not JSON",
            authed.post(url, content="{nope", headers={"content-type": "application/json"}),
            422,
        ),
        ("null", authed.post(url, content="null", headers=JSON), 422),
        ("a list", authed.post(url, content="[]", headers=JSON), 422),
        ("a string", authed.post(url, content='"event"', headers=JSON), 422),
        (
            "nested 100,000 deep",
            authed.post(
                url,
                content="[" * 100_000 + "]" * 100_000,
                headers={"content-type": "application/json"},
            ),
            422,
        ),
        (
            "not UTF-8",
            authed.post(
                url,
                content=b'{"event_id": "\xff\xfe"}',
                headers={"content-type": "application/json"},
            ),
            422,
        ),
    ]
    for what, response, expected in cases:
        assert response.status_code == expected, (what, response.status_code, response.text)
        (error,) = response.json()["detail"]
        assert set(error) == {"field", "reason", "type"}, what
        assert error["field"] in ("body", "content-type"), what
        assert not error["field"].isdigit(), what
    assert _rejected_requests(system) == before + len(cases)

    # a valid event after all of that is still applied
    assert _post(system, _valid(999)).status_code == 202
    wait_for(lambda: events_applied(system, "new") == applied + 1, "the last valid event")


async def _write_raw(system: System, values: list[bytes]) -> None:
    """Straight onto the event log, past ingest: what an older ingest, another producer or a
    broken disk could leave there."""
    topic = topic_for("assessments", system.topic_prefix)
    if system.mode == "embedded":
        log = EventLog(system.data_dir / "events.sqlite3")
        try:
            await log.append([(topic, b"H-raw", value) for value in values])
        finally:
            log.close()
        return
    producer = AIOKafkaProducer(bootstrap_servers=system.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic, value=value, key=b"H-raw")
    finally:
        await producer.stop()


def poison_on_the_log_is_set_aside_and_the_partition_moves_on(system: System) -> None:
    before = events_applied(system, "new")
    # what today's ingest refuses but an older one accepted (issue 10, findings 1 and 2)
    changes: list[dict[str, Any]] = [
        {"recorded_at": "0001-01-01T00:00:00Z"},
        {"recorded_at": "0001-01-01T00:00:00+14:00"},
        {"occurred_at": "0001-01-01"},
        {"revision": 2**63},
    ]
    poison = [json.dumps({**_valid(n), **change}).encode() for n, change in enumerate(changes)]
    asyncio.run(_write_raw(system, poison))
    assert _post(system, _valid(500)).status_code == 202
    wait_for(
        lambda: events_applied(system, "new") == before + 1, "the valid event behind the poison"
    )
    dead = scrape(system.kpi.url).get(("casetime_kpi_dead_letters_total", ()), 0)
    assert dead == len(poison)
    health = authed.get(f"{system.kpi.url}/readyz", timeout=10)
    assert health.status_code == 200, health.text


def queries_outside_the_calendar_are_refused_and_team_labels_stay_closed(system: System) -> None:
    kpi = system.kpi.url
    before = events_applied(system, "new")
    for as_at in ("0001-01-01", "9999-12-31", "1989-12-31", "2101-01-01"):
        for path in ("/kpis", "/open-clocks", "/breaches", "/data-quality"):
            response = authed.get(f"{kpi}{path}", params={"as_at": as_at}, timeout=30)
            assert response.status_code == 422, (path, as_at, response.text)
            (error,) = response.json()["detail"]
            assert error["field"] == "as_at"
            assert "1990-01-01" in error["reason"] or "2100-12-31" in error["reason"]
    # the far end of the calendar answers, and fast (no day-by-day counting)
    response = authed.get(
        f"{kpi}/kpis", params={"as_at": "2100-01-01", "kpi": "ASMT-45WD"}, timeout=30
    )
    assert response.status_code == 200, response.text

    # 40 made-up teams, one with a newline and quotes: one "unlisted" label on /metrics
    made_up = [f"Team {n}" for n in range(39)] + ['Evil "team"\nwith a newline']
    for n, team in enumerate(made_up):
        body = {**_valid(700 + n), "team": team}
        assert _post(system, body).status_code == 202, body
    wait_for(
        lambda: events_applied(system, "new") == before + len(made_up), "the made-up teams' events"
    )
    authed.post(f"{kpi}/kpis/refresh", timeout=60).raise_for_status()
    samples = scrape(kpi)
    teams = {
        dict(labels).get("team") for (name, labels) in samples if name == "casetime_kpi_denominator"
    }
    assert teams <= {
        "all",
        "unlisted",
        "MASH",
        "Duty and Assessment",
        "North Assessment",
        "South Assessment",
        "Child Protection North",
        "Child Protection South",
        "Children in Care",
        "Court Team",
    }
    assert "unlisted" in teams
    # the names are in the data-quality report, not in labels
    quality = authed.get(f"{kpi}/data-quality", params={"check": "unlisted_team"}, timeout=30)
    named = {i["detail"] for i in quality.json()["issues"]}
    assert len(named) == len(made_up)
