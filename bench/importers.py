"""How fast the returns importers read, derive and plan: rows per second for each public
sample (../shared/samples), from the files to the events a connector would post, through a
fresh SQLite ledger. Posting itself is the ingest services' cost (bench/live_facts.py measures
them); here each event is only checked against the contract, as ingest would.

    uv run python bench/importers.py
    CASETIME_BENCH_POSTGRES=postgres@127.0.0.1:15432 uv run python bench/importers.py  # + SSD
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from casetime.events import parse_event
from connectors.ledger import Ledger
from connectors.pseudonyms import Pseudonyms
from connectors.returns import ReturnOptions, import_returns

SAMPLES = Path(
    os.environ.get("CASETIME_SAMPLES") or Path(__file__).resolve().parents[2] / "shared" / "samples"
)
ROOT = str(Path(__file__).resolve().parents[1])
CASES = {
    "CIN census, fake_CIN_data.xml": ("cin", [SAMPLES / "cin-census" / "fake_CIN_data.xml"]),
    "SSDA903 CSV tables, validator-fake": ("903", [SAMPLES / "ssda903" / "validator-fake"]),
    "SSDA903 XML, fake_903.xml": ("903", [SAMPLES / "ssda903" / "validator-fake" / "fake_903.xml"]),
    "SSDA903 CSV, three years": ("903", [SAMPLES / "ssda903" / "multi-year"]),
}


class Checked:
    """Stands in for posting: each event checked against the contract, as ingest checks it."""

    def __init__(self) -> None:
        self.events = 0

    async def __call__(self, bodies: list[dict[str, Any]]) -> None:
        for body in bodies:
            parse_event(json.dumps(body))
        self.events += len(bodies)


async def measure(kind: str, paths: list[Path]) -> tuple[int, int, float]:
    check = Checked()

    with tempfile.TemporaryDirectory() as folder:
        ledger = await Ledger(f"sqlite+aiosqlite:///{folder}/ledger.db").open()
        began = time.perf_counter()
        options = ReturnOptions(Pseudonyms("benchmark pseudonym secret"))
        report = await import_returns(kind, paths, ledger, check, options)
        elapsed = time.perf_counter() - began
        await ledger.close()
    return sum(report.rows.values()), check.events, elapsed


async def measure_ssd(server: str, children: int) -> tuple[int, int, float]:
    """One whole poll of a generated council's SSD tables in PostgreSQL (tests.support.ssd)."""
    from connectors.records import ImportReport
    from connectors.ssd import SOURCE, derive
    from connectors.ssd_source import SsdPoller, SsdReader
    from connectors.sync import Connector

    sys.path.insert(0, ROOT)  # the tests' SSD tables
    from tests.conftest import drop_database
    from tests.support.ssd import council, ssd_database

    check = Checked()

    name, url = await ssd_database(server, council(children))
    with tempfile.TemporaryDirectory() as folder:
        ledger = await Ledger(f"sqlite+aiosqlite:///{folder}/ledger.db").open()
        reader = SsdReader(url, batch_size=1000)
        connector = Connector(SOURCE, ledger, derive, "Not recorded (SSD)", check)
        poller = SsdPoller(reader, ledger, Pseudonyms("benchmark pseudonym secret"), connector)
        report = ImportReport(SOURCE)
        began = time.perf_counter()
        await poller.poll(report)
        elapsed = time.perf_counter() - began
        await reader.close()
        await ledger.close()
    await drop_database(server, name)
    return sum(report.rows.values()), check.events, elapsed


def main() -> None:
    print("| sample | rows | events | seconds | rows per second |")
    print("|---|---:|---:|---:|---:|")
    measured = {name: asyncio.run(measure(kind, paths)) for name, (kind, paths) in CASES.items()}
    if server := os.environ.get("CASETIME_BENCH_POSTGRES"):
        name = "SSD poll, 3,000 generated children (PostgreSQL)"
        measured[name] = asyncio.run(measure_ssd(server, 3_000))
    for name, (rows, events, elapsed) in measured.items():
        print(f"| {name} | {rows:,} | {events:,} | {elapsed:.2f} | {rows / elapsed:,.0f} |")


if __name__ == "__main__":
    main()
