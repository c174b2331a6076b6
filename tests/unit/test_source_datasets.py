"""Events taken from a return or the SSD leave a KPI they cannot feed with no data, not 0%.

The same small history is evaluated as a case system's own events and as a connector's: the
KPIs whose evidence the dataset never records (core groups, visits, strategy discussions,
decision times, when a thing was recorded) lose those members from their cohorts and clocks,
and every other figure is unchanged.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest

from casetime.events import EventEnvelope, SourceDataset
from kpi.domain.data_quality import Check
from kpi.domain.evaluation import Evaluation
from kpi.domain.kpis import KPIS
from kpi.domain.kpis.base import COUNCIL
from tests.support.history import (
    assessment,
    cp_plan,
    icpc,
    period_of_care,
    placement,
    referral,
    run,
    section_47,
)

AS_AT = date(2025, 3, 31)
README = Path(__file__).resolve().parents[2] / "README.md"


def history() -> list[EventEnvelope]:
    """A child referred, assessed, enquired into and put on a plan (no strategy discussion,
    core group or visit recorded); another looked after for over a year with no visit, review
    or health check."""
    return [
        referral("C1", "R1", "2025-01-06"),
        *assessment("C1", "A1", "R1", "2025-01-06", "2025-02-03"),
        section_47("C1", "S1", "2025-01-10", "R1"),
        icpc("C1", "I1", "2025-01-24", "S1"),
        *cp_plan("C1", "P1", "2025-01-24", icpc_id="I1"),
        referral("C2", "R2", "2024-01-08"),
        *period_of_care("C2", "L1", "2024-01-15"),
        *placement("C2", "PL1", "2024-01-15", "L1"),
    ]


def taken_from(events: list[EventEnvelope], dataset: SourceDataset) -> list[EventEnvelope]:
    return [e.model_copy(update={"source_dataset": dataset}) for e in events]


def cohorts(result: Evaluation) -> dict[str, int]:
    """Each KPI's largest council cohort over its periods."""
    found: dict[str, int] = {}
    for f in result.figures:
        if f.team == COUNCIL:
            found[f.kpi] = max(found.get(f.kpi, 0), f.figure.denominator)
    return found


def clocks(result: Evaluation) -> set[str]:
    return {c.clock.kpi for c in result.open_clocks}


UNFED_BY_RETURNS = {
    "ICPC-15WD",
    "CORE-10WD",
    "CP-VISITS",
    "CLA-VISITS",
    "CLA-HEALTH",
    "CLA-DENTAL",
    "SW-CHANGES",
}


def test_a_case_systems_history_puts_every_member_in_the_cohorts_the_returns_cannot_feed() -> None:
    own = run(history(), AS_AT)
    found = cohorts(own)
    # unmet for want of evidence: the figures a return would show as 0% without the exclusion
    assert all(found[k] >= 1 for k in UNFED_BY_RETURNS), found
    assert found["RECORDING-LAG"] > 0
    assert {"REF-DECISION", "CORE-10WD", "CP-VISITS"} <= clocks(own)
    assert Check.ICPC_WITHOUT_STRATEGY_DISCUSSION in {i.check for i in own.issues}


@pytest.mark.parametrize("dataset", [SourceDataset.CIN_CENSUS, SourceDataset.SSDA903])
def test_a_returns_history_shows_no_data_where_the_return_holds_no_evidence(
    dataset: SourceDataset,
) -> None:
    own, imported = run(history(), AS_AT), run(taken_from(history(), dataset), AS_AT)
    found = cohorts(imported)
    unfed = {k for k, kpi in KPIS.items() if dataset in kpi.unrecorded_in}
    assert UNFED_BY_RETURNS | {"RECORDING-LAG"} <= unfed
    assert not {k: n for k, n in found.items() if k in unfed and n}
    # everything else counts exactly as the case system's own events do
    assert {k: n for k, n in found.items() if k not in unfed} == {
        k: n for k, n in cohorts(own).items() if k not in unfed
    }
    assert found["ICPC-15WD-DFE"] == found["ASMT-45WD"] == found["CLA-REVIEWS"] == 1
    assert "RCPC-TIMELY" in clocks(imported)  # the plan's review is still due
    assert not clocks(imported) & unfed
    checks = {i.check for i in imported.issues}
    assert not checks & {Check.ICPC_WITHOUT_STRATEGY_DISCUSSION, Check.DATE_ONLY_HOUR_CLOCK}


def test_the_ssd_feeds_visits_but_not_core_groups() -> None:
    found = cohorts(run(taken_from(history(), SourceDataset.SSD), AS_AT))
    assert all(found[k] >= 1 for k in ("CP-VISITS", "CLA-VISITS", "CLA-HEALTH", "SW-CHANGES"))
    assert found["CORE-10WD"] == found["ICPC-15WD"] == found["RECORDING-LAG"] == 0


def readme_table() -> list[tuple[list[str], dict[SourceDataset, str]]]:
    """The README's "What each source can feed" rows: KPI ids, and each source's cell."""
    text = README.read_text()
    start = text.index("| KPI | CIN census | SSDA903 | SSD |")
    rows = []
    for line in text[start:].splitlines()[2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip("|").split("|")]
        kpis = re.findall(r"[A-Z][A-Z0-9]+(?:-[A-Z0-9]+)+", cells[0])
        sources = (SourceDataset.CIN_CENSUS, SourceDataset.SSDA903, SourceDataset.SSD)
        rows.append((kpis, dict(zip(sources, cells[1:4], strict=True))))
    return rows


def test_the_readmes_table_of_what_each_source_feeds_is_what_the_kpis_declare() -> None:
    rows = readme_table()
    listed = {k for kpis, _ in rows for k in kpis}
    assert {k for k, kpi in KPIS.items() if kpi.unrecorded_in} <= listed
    for kpis, cells in rows:
        for kpi_id in kpis:
            for dataset, cell in cells.items():
                unfed = dataset in KPIS[kpi_id].unrecorded_in
                if cell.startswith("no"):
                    assert unfed, (kpi_id, dataset)
                elif cell.startswith("yes"):
                    assert not unfed, (kpi_id, dataset)
