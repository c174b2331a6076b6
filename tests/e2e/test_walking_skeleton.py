"""A small, realistic case history posted over HTTP to the three ingest services, through the
real Kafka to the KPI service and PostgreSQL, read back from /metrics.

As at Friday 14 February 2025: month = 1-14 Feb 2025; quarter = 1 Jan-14 Feb 2025; financial
year to date = 1 Apr 2024-14 Feb 2025; rolling 12 months = 15 Feb 2024-14 Feb 2025.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from casetime.eventlog import EventLog
from casetime.topics import event_topics
from tests.e2e.conftest import System
from tests.support import credentials as authed
from tests.support.events import event_dict
from tests.support.processes import kpi_sample, scrape

pytestmark = [pytest.mark.infra, pytest.mark.e2e]

NORTH, SOUTH, COURT, FRONT_DOOR = "North Assessment", "South Assessment", "Court Team", "MASH"


def referral(child: str, at: str) -> tuple[str, dict[str, Any]]:
    return "referrals", event_dict(
        "referral_received",
        child_id=child,
        episode_id=f"REF-{child}",
        occurred_at=at,
        team=FRONT_DOOR,
        payload={"referral_source": "1A"},
    )


def assessment(kind: str, child: str, on: str, team: str) -> tuple[str, dict[str, Any]]:
    return "assessments", event_dict(
        kind, child_id=child, episode_id=f"ASMT-{child}", occurred_at=on, team=team,
        payload={"referral_id": f"REF-{child}"},
    )  # fmt: skip


def proceedings(kind: str, child: str, on: str, **payload: Any) -> tuple[str, dict[str, Any]]:
    return "placements", event_dict(
        kind, child_id=child, episode_id=f"PROC-{child}", occurred_at=on, team=COURT,
        payload=payload,
    )  # fmt: skip


HISTORY: list[tuple[str, dict[str, Any]]] = [
    # C1: referral Mon 6 Jan 2025, authorised Mon 10 Feb: 25 working days, in time
    referral("C1", "2025-01-06T10:15:00Z"),
    assessment("assessment_started", "C1", "2025-01-08", NORTH),
    assessment("assessment_completed", "C1", "2025-02-10", NORTH),
    # C2 arrives out of order (authorisation before referral): Fri 1 Nov 2024 -> Mon 20 Jan
    # 2025 is 53 working days (25, 26 Dec, 1 Jan are bank holidays), late
    assessment("assessment_completed", "C2", "2025-01-20", NORTH),
    referral("C2", "2024-11-01T09:00:00Z"),
    # C3: Mon 3 Jun 2024 (BST) -> Fri 26 Jul 2024: 39 working days, in time; only in the
    # financial year and rolling 12 months
    referral("C3", "2024-06-03T08:00:00+01:00"),
    assessment("assessment_completed", "C3", "2024-07-26", SOUTH),
    # C4: authorised 14 Feb 2024, the day before the rolling 12 months start: in no period
    referral("C4", "2024-01-15"),
    assessment("assessment_completed", "C4", "2024-02-14", SOUTH),
    # C5: Mon 3 Feb -> Fri 14 Feb 2025 (the as-at date): 9 working days, in time
    referral("C5", "2025-02-03T14:00:00Z"),
    assessment("assessment_completed", "C5", "2025-02-14", SOUTH),
    # C6: Tue 2 Jan -> Fri 1 Mar 2024: 43 working days, in time; rolling 12 months only
    referral("C6", "2024-01-02"),
    assessment("assessment_completed", "C6", "2024-03-01", NORTH),
    # C7: issued 1 Aug 2024, concluded on day 181 (29 Jan 2025): the last day in time
    proceedings("care_proceedings_issued", "C7", "2024-08-01"),
    proceedings("care_proceedings_concluded", "C7", "2025-01-29", final_order="care_order"),
    # C8: issued 1 Aug 2024, concluded on day 182 (30 Jan 2025): late
    proceedings("care_proceedings_issued", "C8", "2024-08-01"),
    proceedings("care_proceedings_concluded", "C8", "2025-01-30", final_order="sgo"),
    # C9: issued 1 Oct 2024, extended 8 weeks, concluded 10 Feb 2025 (132 days): in time
    proceedings("care_proceedings_issued", "C9", "2024-10-01"),
    proceedings("care_proceedings_extension_granted", "C9", "2025-01-10", weeks=8, reason="expert"),
    proceedings("care_proceedings_concluded", "C9", "2025-02-10", final_order="care_order"),
    # Events no KPI reads yet still travel the whole path.
    (
        "referrals",
        event_dict(
            "strategy_discussion_held",
            child_id="C1",
            episode_id="STRAT-C1",
            occurred_at="2025-01-07T14:00:00Z",
            team=FRONT_DOOR,
            payload={
                "referral_id": "REF-C1",
                "agencies_attended": ["police", "health", "education"],
                "initiated_section_47": False,
            },
        ),
    ),
]

# (kpi, period, team) -> (numerator, denominator), from the comments above
EXPECTED = {
    ("ASMT-45WD", "month", "all"): (2, 2),  # C1, C5
    ("ASMT-45WD", "month", NORTH): (1, 1),
    ("ASMT-45WD", "month", SOUTH): (1, 1),
    ("ASMT-45WD", "quarter", "all"): (2, 3),  # C1, C2 late, C5
    ("ASMT-45WD", "quarter", NORTH): (1, 2),
    ("ASMT-45WD", "quarter", SOUTH): (1, 1),
    ("ASMT-45WD", "financial_year_to_date", "all"): (3, 4),  # + C3
    ("ASMT-45WD", "financial_year_to_date", NORTH): (1, 2),
    ("ASMT-45WD", "financial_year_to_date", SOUTH): (2, 2),
    ("ASMT-45WD", "rolling_12_months", "all"): (4, 5),  # + C6
    ("ASMT-45WD", "rolling_12_months", NORTH): (2, 3),
    ("ASMT-45WD", "rolling_12_months", SOUTH): (2, 2),
    ("PROC-26W", "month", "all"): (1, 1),  # C9
    ("PROC-26W", "month", COURT): (1, 1),
    ("PROC-26W", "quarter", "all"): (2, 3),  # C7, C8 late, C9
    ("PROC-26W", "quarter", COURT): (2, 3),
    ("PROC-26W", "financial_year_to_date", "all"): (2, 3),
    ("PROC-26W", "financial_year_to_date", COURT): (2, 3),
    ("PROC-26W", "rolling_12_months", "all"): (2, 3),
    ("PROC-26W", "rolling_12_months", COURT): (2, 3),
}


def kpi_figures(system: System) -> dict[tuple[str, str, str], tuple[float | None, ...]]:
    samples = scrape(system.kpi.url)
    return {
        key: tuple(
            kpi_sample(samples, f"casetime_kpi_{part}", *key)
            for part in ("numerator", "denominator", "ratio")
        )
        for key in EXPECTED
    }


def expected_figures() -> dict[tuple[str, str, str], tuple[float | None, ...]]:
    return {key: (float(n), float(d), n / d) for key, (n, d) in EXPECTED.items()}


def events_applied(system: System, outcome: str) -> float:
    return scrape(system.kpi.url).get(("casetime_kpi_events_total", (("outcome", outcome),)), 0)


def wait_for(condition: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.25)


def post_one_by_one(system: System) -> None:
    for service, body in HISTORY:
        response = authed.post(f"{system.url(service)}/events", json=body, timeout=30)
        assert response.status_code == 202, response.text
        assert response.json() == {
            "event_id": body["event_id"],
            "revision": 1,
            "status": "accepted",
        }


def post_again_in_batches(system: System) -> None:
    for service in ("referrals", "assessments", "placements"):
        bodies = [body for s, body in HISTORY if s == service]
        response = authed.post(
            f"{system.url(service)}/events/batch", json={"events": bodies}, timeout=30
        )
        assert response.status_code == 202, response.text
        assert response.json()["count"] == len(bodies)


def log_end(system: System) -> dict[Any, int]:
    """Where every event log ends: Kafka's end offsets, or the embedded log's."""
    if system.mode == "embedded":
        event_log = EventLog(system.data_dir / "events.sqlite3")
        try:
            return {"embedded": asyncio.run(event_log.end_offset())}
        finally:
            event_log.close()
    return asyncio.run(end_offsets(system))


async def end_offsets(system: System) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=system.kafka_bootstrap)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in event_topics(system.topic_prefix)
            for p in consumer.partitions_for_topic(topic) or await _partitions(consumer, topic)
        ]
        offsets: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
        return offsets
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return consumer.partitions_for_topic(topic) or set()


def test_case_history_through_kafka_gives_the_hand_computed_kpis(
    casetime_system: System,
) -> None:
    system = casetime_system
    post_one_by_one(system)
    wait_for(lambda: events_applied(system, "new") == len(HISTORY), "every event applied")
    wait_for(lambda: kpi_figures(system) == expected_figures(), "the expected KPI figures")
    assert kpi_figures(system) == expected_figures()
    # No child identifier ever appears on /metrics.
    metrics_text = authed.get(f"{system.kpi.url}/metrics/").text
    for _, body in HISTORY:
        assert f'"{body["child_id"]}"' not in metrics_text
        assert f'"{body["episode_id"]}"' not in metrics_text

    # The same events again, as batches this time: accepted, and no figure moves.
    post_again_in_batches(system)
    wait_for(lambda: events_applied(system, "duplicate") == len(HISTORY), "duplicates applied")
    authed.post(f"{system.kpi.url}/kpis/refresh", timeout=30).raise_for_status()
    assert kpi_figures(system) == expected_figures()
    assert events_applied(system, "new") == len(HISTORY)

    # A malformed event is refused with the field named, and nothing reaches Kafka.
    before = log_end(system)
    assert sum(before.values()) == 2 * len(HISTORY)
    bad = dict(HISTORY[2][1], event_id="bad-1", payload={"referral_id": "REF-C1", "extra": 1})
    response = authed.post(f"{system.url('assessments')}/events", json=bad, timeout=30)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "payload.extra"
    bad_batch = {"events": [HISTORY[1][1], dict(HISTORY[1][1], occurred_at="yesterday")]}
    response = authed.post(f"{system.url('assessments')}/events/batch", json=bad_batch)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "events.1.occurred_at"
    assert log_end(system) == before

    # With partial=true the valid events of a batch are published and the answer names the rest.
    response = authed.post(
        f"{system.url('assessments')}/events/batch", params={"partial": "true"}, json=bad_batch
    )
    assert response.status_code == 202
    answer = response.json()
    assert [a["event_id"] for a in answer["accepted"]] == [HISTORY[1][1]["event_id"]]
    assert [(r["index"], r["errors"][0]["field"]) for r in answer["rejected"]] == [
        (1, "occurred_at")
    ]
    assert sum(log_end(system).values()) == sum(before.values()) + 1

    # The query API agrees with /metrics.
    query = authed.get(f"{system.kpi.url}/kpis", params={"team": "all"}).json()
    from_query = {
        (v["kpi"], v["period"], v["team"]): (v["numerator"], v["denominator"])
        for v in query["values"]
        if v["kpi"] in ("ASMT-45WD", "PROC-26W")
    }
    assert {k: v for k, v in EXPECTED.items() if k[2] == "all"} == from_query
