"""kill -9 of `casetime connect ssd` in the middle of a poll, then the same command again: casetime
ends up holding exactly the events one uninterrupted poll of the same tables makes, each at its
first revision, and its figures are theirs."""

from __future__ import annotations

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from connectors.ledger import Ledger
from connectors.pseudonyms import Pseudonyms
from connectors.records import ImportReport
from connectors.ssd import SOURCE, derive
from connectors.ssd_source import SsdPoller, SsdReader
from connectors.sync import Connector
from tests.conftest import drop_database
from tests.faults.conftest import MakeSystem
from tests.faults.harness import CHECK_DATES, council_figures, recomputed_figures, stored_revisions
from tests.support import credentials as authed
from tests.support.samples import needs_samples
from tests.support.ssd import council, ssd_database

pytestmark = [pytest.mark.infra, needs_samples]
SECRET = "the crash test council's pseudonym secret"
TEAM = "Not recorded (SSD)"


def one_whole_poll(ssd_url: str, ledger_url: str) -> list[dict[str, Any]]:
    """What a poll never stopped posts, kept rather than posted (its own new ledger)."""
    posted: list[dict[str, Any]] = []

    async def keep(bodies: list[dict[str, Any]]) -> None:
        posted.extend(bodies)

    async def work() -> None:
        ledger = await Ledger(ledger_url).open()
        reader = SsdReader(ssd_url, batch_size=1000)
        poller = SsdPoller(
            reader, ledger, Pseudonyms(SECRET), Connector(SOURCE, ledger, derive, TEAM, keep)
        )
        try:
            await poller.poll(ImportReport(SOURCE))
        finally:
            await reader.close()
            await ledger.close()

    asyncio.run(work())
    return posted


def scan_position(ledger: Path) -> str:
    with sqlite3.connect(ledger) as db:
        found = db.execute(
            "SELECT value FROM connector_position WHERE source = 'ssd' AND name = 'scan'"
        ).fetchone()
    return str(found[0]) if found else ""


def recorded(ledger: Path) -> int:
    """The events the connector has recorded as posted (0 before its ledger exists)."""
    try:
        with sqlite3.connect(ledger) as db:
            return int(db.execute("SELECT count(*) FROM connector_event").fetchone()[0])
    except sqlite3.OperationalError:
        return 0


def test_kill_9_of_the_ssd_connector_mid_poll_loses_and_doubles_nothing(
    make_system: MakeSystem, postgres_server: str, tmp_path: Path
) -> None:
    system = make_system()
    assert system.credentials is not None
    name, ssd = asyncio.run(ssd_database(postgres_server, council(children=120)))
    try:
        wanted = one_whole_poll(ssd, f"sqlite+aiosqlite:///{tmp_path / 'reference.db'}")
        assert len(wanted) > 600
        ledger = tmp_path / "connector.db"
        command = [
            sys.executable, "-m", "casetime_tools.cli", "connect", "ssd", "--url", ssd,
            "--state", f"sqlite+aiosqlite:///{ledger}", "--batch-size", "10",
            *(a for s in ("referrals", "assessments", "placements")
              for a in ("--ingest", f"{s}={system.urls(s)[0]}")),
        ]  # fmt: skip
        env = {
            **os.environ,
            "CASETIME_SOURCE_KEY": system.credentials.source_key,
            "CASETIME_PSEUDONYM_KEY": SECRET,
        }
        log = (tmp_path / "connector.log").open("wb")
        connector = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while recorded(ledger) < len(wanted) // 3:
            assert connector.poll() is None, "the poll ended before it could be killed"
            assert time.monotonic() < deadline, "the connector posted nothing"
            time.sleep(0.05)
        connector.send_signal(signal.SIGKILL)
        assert connector.wait(10) == -signal.SIGKILL
        assert recorded(ledger) < len(wanted)
        assert '"after"' in scan_position(ledger)  # killed mid-poll, its position part-way

        again = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
        assert recorded(ledger) == len(wanted)

        # casetime holds every event of the uninterrupted poll once, none at a later revision
        want = {b["event_id"]: b["revision"] for b in wanted}
        held: dict[str, int] = {}
        deadline = time.monotonic() + 120
        while held != want and time.monotonic() < deadline:
            time.sleep(0.5)
            held = stored_revisions(system.database_url)
        assert held == want
        authed.post(f"{system.kpi_url}/kpis/refresh", timeout=120).raise_for_status()
        for as_at in CHECK_DATES:
            live = council_figures(system.kpi_url, as_at)
            assert live == recomputed_figures(wanted, as_at), as_at
            assert any(d for (kpi, _), (_, d) in live.items() if kpi == "CP-VISITS")
    finally:
        asyncio.run(drop_database(postgres_server, name))
