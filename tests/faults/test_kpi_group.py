"""Two KPI services in one consumer group over one database (issue 12): they share the
partitions and the facts queue; one is killed with kill -9 mid-stream; the other takes its
partitions over, and the figures are those of one service: equal to the recomputation from
scratch, at the live date (from the facts), at a kept earlier date, and at the check dates."""

from __future__ import annotations

import signal
import time
import uuid
from datetime import date

import pytest

from tests.faults.conftest import MakeSystem
from tests.faults.harness import (
    Ledger,
    Poster,
    assert_figures_match_recomputation,
    council_figures,
    outcomes,
    recomputed_figures,
    stored_revisions,
    stream,
    wait_until_applied,
)
from tests.support.credentials import present
from tests.support.processes import ServiceProcess

pytestmark = [pytest.mark.infra]

# the live date of the fault systems (CASETIME_KPI_AS_AT) and the end of the quarter before it,
# both dates whose facts the KPI services keep
KEPT_DATES = (date(2025, 2, 14), date(2024, 12, 31))


def applied(url: str) -> float:
    return sum(outcomes(url).values())


def test_two_kpi_services_in_one_group_one_killed_give_the_figures_of_one(
    make_system: MakeSystem,
) -> None:
    system = make_system()
    assert system.kpi is not None
    first = system.kpi
    (system.log_dir / "second").mkdir()
    second = ServiceProcess("kpi", system.kpi_env, system.log_dir / "second")
    assert system.credentials is not None
    present(second.url, system.credentials.reader)
    second.start()
    second.wait_ready(60)
    run = uuid.uuid4().hex[:6]
    ledger = Ledger()
    poster = Poster(stream(run, 5), system.urls, ledger, pace=0.2)
    poster.start()
    try:
        # both services apply events: the group has shared the partitions between them
        deadline = time.monotonic() + 90
        while applied(first.url) == 0 or applied(second.url) == 0:
            assert time.monotonic() < deadline, system.log_tails() + second.log_tail()
            time.sleep(0.5)
        at_kill = len(stored_revisions(system.database_url))
        code = first.stop(signal.SIGKILL)
        # the survivor takes the partitions over while events keep coming
        system.kpi = second
        time.sleep(3)
        poster.finish()
        wait_until_applied(system, ledger, timeout=180)
        assert_figures_match_recomputation(system, ledger)
        for as_at in KEPT_DATES:
            live = council_figures(second.url, as_at)
            expected = recomputed_figures(ledger.accepted, as_at)
            diff = {k: (live.get(k), v) for k, v in expected.items() if live.get(k) != v}
            assert not diff, f"as at {as_at}, (live, recomputed) differ: {diff}"
            assert any(d for _, d in expected.values())
    finally:
        poster.finish()
        second.stop()
    assert code == -signal.SIGKILL
    # killed mid-stream: the survivor applied what the first had not
    assert at_kill < len(ledger.accepted_ids)
    assert len(stored_revisions(system.database_url)) == len(ledger.accepted_ids)
