"""Restart PostgreSQL while events flow: the KPI service keeps running, catches up, and nothing
acknowledged is lost or counted twice."""

from __future__ import annotations

import time
import uuid
from collections import Counter

import pytest

from tests.faults.conftest import MakeSystem
from tests.faults.harness import (
    Ledger,
    Poster,
    assert_figures_match_recomputation,
    outcomes,
    readyz,
    stored_revisions,
    stream,
    wait_ready,
    wait_until_applied,
)
from tests.support.scripts import run_script

pytestmark = [pytest.mark.infra]

OUTAGE_SECONDS = 5.0


def test_a_postgres_restart_loses_and_doubles_nothing(make_system: MakeSystem) -> None:
    started = time.monotonic()
    system = make_system()
    assert system.kpi is not None
    assert system.kpi.process is not None
    kpi_pid = system.kpi.process.pid
    run = uuid.uuid4().hex[:6]
    ledger = Ledger()
    poster = Poster(stream(run, 5), system.urls, ledger, pace=0.2)
    poster.start()
    probes: list[int | None] = []
    try:
        deadline = time.monotonic() + 30
        while len(stored_revisions(system.database_url)) < 30:
            assert time.monotonic() < deadline, system.log_tails()
            time.sleep(0.2)
        in_store_before = len(stored_revisions(system.database_url))
        run_script("postgres.sh", "stop")
        down_from = time.monotonic()
        while time.monotonic() - down_from < OUTAGE_SECONDS:
            probes.append(readyz(system.kpi_url))
            time.sleep(0.5)
        posted_during_outage = poster.posted
    finally:
        run_script("postgres.sh", "start")
    pg_back = time.monotonic() - down_from
    ready_after = wait_ready(system.kpi_url, 60)
    posted_at_recovery = poster.posted
    deadline = time.monotonic() + 60
    while poster.posted < posted_at_recovery + 10:
        assert time.monotonic() < deadline, "no post accepted after PostgreSQL came back"
        time.sleep(0.2)
    poster.finish()
    waited = wait_until_applied(system, ledger)
    nonzero = assert_figures_match_recomputation(system, ledger)

    counted = outcomes(system.kpi_url)
    distinct = len(ledger.accepted_ids)
    amendments = sum(1 for e in ledger.accepted if e.get("revision", 1) == 2)
    print(
        f"\n[postgres restart] events in store before the stop {in_store_before}, PostgreSQL back"
        f" after {pg_back:.1f}s, KPI /readyz during the outage {dict(Counter(probes))}, ready"
        f" {ready_after:.1f}s after the restart, batches posted during the outage"
        f" {posted_during_outage}, accepted posts {len(ledger.accepted)}, distinct ids"
        f" {distinct}, amendments {amendments}, in store"
        f" {len(stored_revisions(system.database_url))}, outcomes {counted} (sum"
        f" {sum(counted.values())}), statuses {dict(ledger.statuses())}, non-zero figures"
        f" {nonzero}, applied in {waited:.1f}s after the last post,"
        f" test {time.monotonic() - started:.1f}s"
    )
    # the same KPI process throughout: it kept running and caught up on its own
    assert system.kpi.process is not None
    assert system.kpi.process.pid == kpi_pid
    assert system.kpi.process.poll() is None
    assert 503 in probes, "the KPI service did not report the database outage on /readyz"
    assert ledger.statuses().keys() == {202}  # ingest does not need PostgreSQL
    assert posted_during_outage > 0
    # Nothing lost (wait_until_applied: the store holds exactly the accepted ids at their latest
    # revision), nothing counted twice (figures equal the recomputation); the consumer's own
    # counters agree: each accepted (event id, revision) applied exactly once as new or replaced.
    assert len(stored_revisions(system.database_url)) == distinct
    assert counted["new"] == distinct, "events_total{outcome=new} counts events more than once"
    assert counted["replaced"] == amendments
    assert sum(counted.values()) == len(ledger.accepted)
