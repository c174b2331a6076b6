"""Restart the Kafka broker while events are posted: during the outage ingest answers 503 with
Retry-After and never 2xx, the sender retries, the KPI consumer recovers, and nothing acknowledged
is lost or counted twice."""

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

OUTAGE_SECONDS = 8.0
READY_BOUND_SECONDS = 60.0


def test_a_kafka_restart_loses_and_doubles_nothing(make_system: MakeSystem) -> None:
    started = time.monotonic()
    # a short producer timeout, so that a post during the outage can get its 503 within seconds
    system = make_system(ingest={"CASETIME_KAFKA_REQUEST_TIMEOUT_MS": "3000"})
    run = uuid.uuid4().hex[:6]
    ledger = Ledger()
    # the sender gives up on an unanswered post after 5 s and sends it again
    poster = Poster(stream(run, 5), system.urls, ledger, pace=0.2, client_timeout=5.0)
    poster.start()
    ingest_urls = [url for service in system.ingest for url in system.urls(service)]
    probes: list[tuple[str, int | None]] = []
    try:
        deadline = time.monotonic() + 30
        while len(stored_revisions(system.database_url)) < 30:
            assert time.monotonic() < deadline, system.log_tails()
            time.sleep(0.2)
        run_script("kafka.sh", "stop")
        down_from = time.monotonic()
        while time.monotonic() - down_from < OUTAGE_SECONDS:
            probes.extend((url, readyz(url)) for url in [system.kpi_url, *ingest_urls])
            time.sleep(0.5)
        down_until = time.monotonic()
    finally:
        run_script("kafka.sh", "start")
    broker_back = time.monotonic() - down_from
    restarted = time.monotonic()
    ready_after = wait_ready(system.kpi_url, READY_BOUND_SECONDS)
    for url in ingest_urls:
        wait_ready(url, 60)
    since_restart = time.monotonic() - restarted
    # keep sending a little after recovery, then stop
    posted_at_recovery = poster.posted
    deadline = time.monotonic() + 60
    while poster.posted < posted_at_recovery + 10:
        if not poster.is_alive():
            poster.finish()  # raises what stopped it
        assert time.monotonic() < deadline, (
            "no post accepted after the broker came back; answers since:"
            f" {dict(Counter(a.status for a in ledger.attempts if a.sent_at >= restarted))}\n"
            + system.log_tails()
        )
        time.sleep(0.2)
    poster.finish()
    waited = wait_until_applied(system, ledger)
    nonzero = assert_figures_match_recomputation(system, ledger)

    during = [a for a in ledger.attempts if a.sent_at >= down_from and a.answered_at <= down_until]
    unavailable = [a for a in ledger.attempts if a.status == 503]
    counted = outcomes(system.kpi_url)
    kpi_probes = Counter(code for url, code in probes if url == system.kpi_url)
    ingest_probes = Counter(code for url, code in probes if url != system.kpi_url)
    print(
        f"\n[kafka restart] outage {down_until - down_from:.1f}s (broker back after"
        f" {broker_back:.1f}s), answers to posts sent and answered during the outage"
        f" {dict(Counter(a.status for a in during))}, 503s {len(unavailable)} (Retry-After"
        f" {sorted({str(a.retry_after) for a in unavailable})}), all statuses"
        f" {dict(ledger.statuses())} (None: no answer within 5 s), /readyz during the outage:"
        f" KPI {dict(kpi_probes)}, ingest {dict(ingest_probes)}; KPI ready"
        f" {ready_after:.1f}s and ingest within {since_restart:.1f}s after the restart,"
        f" accepted posts {len(ledger.accepted)}, distinct ids {len(ledger.accepted_ids)}, in"
        f" store {len(stored_revisions(system.database_url))}, outcomes {counted}, non-zero"
        f" figures {nonzero}, applied in {waited:.1f}s after the last post,"
        f" test {time.monotonic() - started:.1f}s"
    )
    for a in ledger.attempts:
        if a.answered_at >= down_from - 5 and a.sent_at <= down_until + 20:
            print(
                f"  post {a.sent_at - down_from:+.1f}s ->"
                f" {a.answered_at - down_from:+.1f}s: {a.status}"
            )
    # Nothing lost, nothing counted twice: every accepted event in the store once, at its latest
    # revision (wait_until_applied), and the figures equal the recomputation (above).
    assert len(stored_revisions(system.database_url)) == len(ledger.accepted_ids)
    assert counted["new"] <= len(ledger.accepted_ids)
    # While the broker was down nothing was acknowledged, and ingest said it was not ready...
    assert not [a for a in during if a.status is not None and 200 <= a.status < 300]
    assert ingest_probes[503] > 0
    # ...and posts were refused with 503 and Retry-After, rather than left hanging.
    sent_during = Counter(a.status for a in ledger.attempts if down_from <= a.sent_at <= down_until)
    assert unavailable, (
        f"no 503 during the Kafka outage; posts sent during it got {dict(sent_during)}"
        " (None: no answer within 5 s)"
    )
    assert all(a.retry_after for a in unavailable)
