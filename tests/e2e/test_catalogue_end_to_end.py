"""Every event type, posted over HTTP to its ingest service, through the real Kafka and
PostgreSQL: the query API and /metrics give the same numbers, and both equal a recomputation
from scratch over the same events."""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import date
from typing import Any

import pytest

from casetime.events import EVENT_TYPES, parse_event
from casetime.examples import example_event
from casetime.topics import owner_of
from kpi.adapters.council_file import load_council_config
from kpi.domain.calendar import england_calendar
from kpi.domain.casebook import RuleContext
from kpi.domain.evaluation import evaluate
from kpi.domain.kpis import KPIS
from kpi.domain.kpis.base import Measure
from kpi.domain.recompute import casebook_from_events
from tests.e2e.conftest import System
from tests.support import credentials as authed
from tests.support.processes import scrape

pytestmark = [pytest.mark.infra, pytest.mark.e2e]

LIVE_AS_AT = date(2025, 2, 14)  # CASETIME_KPI_AS_AT in tests/e2e/conftest.py


def story() -> list[dict[str, Any]]:
    """The contract's examples: one child's story across every event type (the void withdraws
    an event that was never sent, which must change nothing)."""
    return [example_event(t) for t in EVENT_TYPES]


def service_for(event: dict[str, Any]) -> str:
    if event["event_type"] in ("exception_reason_recorded", "event_voided"):
        return "placements"
    return owner_of(event["event_type"])


def wait_until_applied(system: System, count: int) -> None:
    deadline = time.monotonic() + 60
    key = ("casetime_kpi_events_total", (("outcome", "new"),))
    while scrape(system.kpi.url).get(key, 0) < count:
        assert time.monotonic() < deadline, "events not applied in time"
        time.sleep(0.25)
    authed.post(f"{system.kpi.url}/kpis/refresh", timeout=60).raise_for_status()


def test_query_api_metrics_and_recomputation_agree_for_every_kpi(
    casetime_system: System,
) -> None:
    system = casetime_system
    events = story()
    for event in events:
        url = f"{system.url(service_for(event))}/events"
        response = authed.post(url, json=event, timeout=30)
        assert response.status_code == 202, response.text
    wait_until_applied(system, len(events))

    # /kpis (live snapshot) and /metrics agree, row by row, for the council and every team.
    query = authed.get(f"{system.kpi.url}/kpis", timeout=60).json()
    assert query["as_at"] == LIVE_AS_AT.isoformat()
    samples = scrape(system.kpi.url)
    compared = 0
    for row in query["values"]:
        if row["level"] == "service":
            prefix, labels = (
                "casetime_service_kpi",
                (("kpi", row["kpi"]), ("period", row["period"]), ("service", row["service"])),
            )
        else:
            prefix, labels = (
                "casetime_kpi",
                (("kpi", row["kpi"]), ("period", row["period"]), ("team", row["team"])),
            )
        assert samples[(f"{prefix}_numerator", labels)] == row["numerator"]
        assert samples[(f"{prefix}_denominator", labels)] == row["denominator"]
        name = "ratio" if KPIS[row["kpi"]].measure is Measure.RATIO else "value"
        assert samples.get((f"{prefix}_{name}", labels)) == pytest.approx(row["value"])
        compared += 1
    assert compared >= len(KPIS) * 4

    # Open clocks and breaches: the same counts in the query API and on /metrics.
    clocks = authed.get(f"{system.kpi.url}/open-clocks", timeout=60).json()
    for count in clocks["counts"]:
        labels = (("kpi", count["kpi"]), ("state", count["state"]), ("team", count["team"]))
        assert samples[("casetime_open_clocks", labels)] == count["count"]
    breaches = authed.get(f"{system.kpi.url}/breaches", timeout=60).json()["breaches"]
    per_label = Counter((b["kpi"], b["period"], b["reason"], b["team"]) for b in breaches)
    for (kpi, period, reason, team), n in per_label.items():
        breach = (("kpi", kpi), ("period", period), ("reason", reason), ("team", team))
        assert samples[("casetime_kpi_breaches", breach)] == n

    # Any past date: the query API equals a recomputation from scratch over the same events.
    as_at = date(2025, 9, 30)
    config = load_council_config(None)
    reference = evaluate(
        casebook_from_events([parse_event(json.dumps(e)) for e in events]),
        RuleContext(as_at, england_calendar(), config.rule_settings()),
        config,
    )
    past = authed.get(
        f"{system.kpi.url}/kpis", params={"as_at": as_at.isoformat(), "level": "council"}
    ).json()
    live = {(v["kpi"], v["period"]): (v["numerator"], v["denominator"]) for v in past["values"]}
    expected = {
        (f.kpi, f.period): (f.figure.numerator, f.figure.denominator)
        for f in reference.figures
        if f.team == "all"
    }
    assert live == expected
    # the story reaches most of the catalogue by then
    assert sum(1 for n, d in expected.values() if d) >= 15
