"""Schema evolution: version 2 of assessment_completed is accepted beside version 1; events of
both versions are read by the KPI service and count alike; an unknown version is refused."""

from __future__ import annotations

import time

import pytest

from casetime.examples import example_event, example_of_version
from tests.e2e.conftest import System
from tests.support import credentials as authed
from tests.support.processes import scrape

pytestmark = [pytest.mark.infra, pytest.mark.e2e]


def test_version_1_and_2_senders_both_count(casetime_system: System) -> None:
    system = casetime_system
    referral = example_event("referral_received")
    # referral Mon 6 Jan 2025; both assessments authorised Fri 28 Feb 2025: 39 working days
    v1 = dict(example_event("assessment_completed"), event_id="asmt-v1", episode_id="ASMT-1")
    v2 = dict(example_of_version("assessment_completed", 2), event_id="asmt-v2")
    v2["episode_id"] = "ASMT-2"
    assert authed.post(f"{system.url('referrals')}/events", json=referral).status_code == 202
    for event in (v1, v2):
        response = authed.post(f"{system.url('assessments')}/events", json=event)
        assert response.status_code == 202, response.text
    v3 = dict(v2, event_id="asmt-v3", schema_version=3)
    refused = authed.post(f"{system.url('assessments')}/events", json=v3)
    assert refused.status_code == 422
    assert refused.json()["detail"][0]["field"] == "event_type"
    assert "'assessment_completed v2'" in refused.json()["detail"][0]["reason"]

    deadline = time.monotonic() + 60
    key = ("casetime_kpi_events_total", (("outcome", "new"),))
    while scrape(system.kpi.url).get(key, 0) < 3:
        assert time.monotonic() < deadline
        time.sleep(0.25)
    authed.post(f"{system.kpi.url}/kpis/refresh", timeout=60).raise_for_status()
    values = authed.get(
        f"{system.kpi.url}/kpis",
        params={"kpi": "ASMT-45WD", "as_at": "2025-02-28", "period": "month", "level": "council"},
    ).json()["values"]
    assert [(v["numerator"], v["denominator"]) for v in values] == [(2, 2)]
