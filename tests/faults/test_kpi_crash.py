"""kill -9 the KPI service three times while events stream in: nothing lost, nothing counted
twice (the batch in flight at each kill is redelivered and deduplicated by the event store)."""

from __future__ import annotations

import signal
import time
import uuid

import pytest

from tests.faults.conftest import MakeSystem
from tests.faults.harness import (
    Ledger,
    Poster,
    assert_figures_match_recomputation,
    outcomes,
    stored_revisions,
    stream,
    wait_until_applied,
)

pytestmark = [pytest.mark.infra]

KILLS = 3


def test_kill_9_of_the_kpi_service_under_load_loses_and_doubles_nothing(
    make_system: MakeSystem,
) -> None:
    started = time.monotonic()
    system = make_system()
    assert system.kpi is not None
    run = uuid.uuid4().hex[:6]
    ledger = Ledger()
    poster = Poster(stream(run, 5), system.urls, ledger, pace=0.25)
    poster.start()
    codes = []
    applied_at_kill = []
    for _ in range(KILLS):
        # let the consumer get going on a backlog, then kill it mid-stream
        deadline = time.monotonic() + 30
        before = len(stored_revisions(system.database_url))
        while len(stored_revisions(system.database_url)) < before + 10:
            assert time.monotonic() < deadline, system.log_tails()
            time.sleep(0.2)
        time.sleep(0.3)
        applied_at_kill.append(len(stored_revisions(system.database_url)))
        codes.append(system.restart_kpi(signal.SIGKILL))
        system.kpi.wait_ready(60)
    # a few more after the last restart, then stop sending
    time.sleep(2)
    poster.finish()
    waited = wait_until_applied(system, ledger)
    nonzero = assert_figures_match_recomputation(system, ledger)

    counted = outcomes(system.kpi_url)
    statuses = ledger.statuses()
    print(
        f"\n[kpi kill -9] restarts {len(codes)} (exit codes {codes}), events in store at each"
        f" kill {applied_at_kill}, batches posted {poster.posted}, accepted posts"
        f" {len(ledger.accepted)}, distinct ids"
        f" {len(ledger.accepted_ids)}, in store {len(stored_revisions(system.database_url))},"
        f" outcomes since the last restart {counted}, statuses {dict(statuses)}, non-zero"
        f" figures {nonzero}, applied in {waited:.1f}s after the last post,"
        f" test {time.monotonic() - started:.1f}s"
    )
    assert codes == [-signal.SIGKILL] * KILLS
    # the kills happened mid-stream
    assert applied_at_kill[-1] < len(ledger.accepted_ids)
    assert statuses.keys() == {202}
    # each (event id, revision) posted once: any duplicate applied came from a redelivery
    assert len({(e["event_id"], e.get("revision", 1)) for e in ledger.accepted}) == len(
        ledger.accepted
    )
    # wait_until_applied: the store holds exactly the accepted ids, at their latest revision
    assert len(stored_revisions(system.database_url)) == len(ledger.accepted_ids)
