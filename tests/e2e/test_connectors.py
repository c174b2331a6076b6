"""The returns importers against the real services, in both modes: three years of a 903 return
imported one at a time and out of order, then census files, leave casetime with exactly the
figures a recomputation from scratch gives over the events those returns make together (so the
revisions and voids the out-of-order imports posted on the way undid what they had to);
importing a return again posts nothing. In Kafka mode the connector's ledger is in the real
PostgreSQL, embedded in SQLite."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from casetime.events import parse_event
from connectors.ledger import Ledger
from connectors.posting import post_events
from connectors.pseudonyms import Pseudonyms
from connectors.records import ImportReport
from connectors.returns import ReturnOptions, derive_all, import_returns, read_rows
from kpi.adapters.council_file import load_council_config
from kpi.domain.calendar import england_calendar
from kpi.domain.casebook import RuleContext
from kpi.domain.evaluation import evaluate
from kpi.domain.recompute import casebook_from_events
from tests.e2e.conftest import System, applied, wait_until_applied
from tests.support import credentials as authed
from tests.support.samples import SAMPLES, needs_samples

pytestmark = [pytest.mark.infra, pytest.mark.e2e, needs_samples]

YEARS = SAMPLES / "ssda903" / "multi-year"
CENSUS = [SAMPLES / "cin-census" / "fake_CIN_data.xml", SAMPLES / "cin-census" / "CIN2rows.xml"]
OPTIONS = ReturnOptions(Pseudonyms("the test council's pseudonym secret"))
AS_AT = date(2021, 3, 31)


def run_import(system: System, ledger_url: str, kind: str, paths: Sequence[Path]) -> ImportReport:
    """One `casetime import` run, as the command makes it, waiting until casetime has applied
    what it posted."""
    urls = {name: system.url(name) for name in ("referrals", "assessments", "placements")}
    before = applied(system)

    async def post(bodies: list[dict[str, Any]]) -> None:
        await post_events(bodies, urls, source_key=system.credentials.source_key)

    async def work() -> ImportReport:
        ledger = await Ledger(ledger_url).open()
        try:
            return await import_returns(kind, paths, ledger, post, OPTIONS)
        finally:
            await ledger.close()

    report = asyncio.run(work())
    wait_until_applied(system, before + report.posted)
    return report


def test_returns_imported_a_year_at_a_time_out_of_order_give_the_figures_of_all_at_once(
    casetime_system: System, tmp_path: Path
) -> None:
    system = casetime_system
    ledger = (
        system.store_url
        if system.mode == "kafka"
        else f"sqlite+aiosqlite:///{tmp_path / 'connector.db'}"
    )
    years = {y: sorted(YEARS.glob(f"{y}-*.csv")) for y in ("2019", "2020", "2021")}
    reports = [run_import(system, ledger, "903", years[y]) for y in ("2021", "2019", "2020")]
    # the earlier returns arriving after the later one changed events posted before
    assert sum(r.voided for r in reports) > 0
    assert all(r.posted for r in reports)
    census = run_import(system, ledger, "cin", CENSUS)
    assert (len(census.children), census.episodes) == (333, 403)

    # the same return again: nothing to post
    again = run_import(system, ledger, "903", years["2020"])
    assert (again.posted, again.voided) == (0, 0)
    assert again.changed_rows == 0
    assert sum(r.changed_rows for r in reports) > 0

    rows_903 = read_rows(
        "903", [p for y in years.values() for p in y], OPTIONS, ImportReport("903")
    )
    rows_cin = read_rows("cin", CENSUS, OPTIONS, ImportReport("cin"))
    drafts = derive_all("903", rows_903) + derive_all("cin", rows_cin)
    config = load_council_config(None)
    expected = evaluate(
        casebook_from_events([parse_event(json.dumps(d.body(1))) for d in drafts]),
        RuleContext(AS_AT, england_calendar(), config.rule_settings()),
        config,
    )
    authed.post(f"{system.kpi.url}/kpis/refresh", timeout=60).raise_for_status()
    past = authed.get(
        f"{system.kpi.url}/kpis",
        params={"as_at": AS_AT.isoformat(), "level": "council"},
        timeout=120,
    ).json()
    live = {(v["kpi"], v["period"]): (v["numerator"], v["denominator"]) for v in past["values"]}
    wanted = {
        (f.kpi, f.period): (f.figure.numerator, f.figure.denominator)
        for f in expected.figures
        if f.team == "all"
    }
    assert live == wanted
    fed = {kpi for (kpi, _), (_, d) in wanted.items() if d}
    assert {"PLACEMENT-3PLUS", "CLA-REVIEWS", "REREFERRAL-12M"} <= fed, fed
    # what the returns cannot feed shows no data, not 0% (the children are looked after, but
    # the 903 holds no visit or health check dates, and neither return says who the worker was)
    assert not fed & {"CLA-VISITS", "CLA-HEALTH", "CLA-DENTAL", "SW-CHANGES", "RECORDING-LAG"}
