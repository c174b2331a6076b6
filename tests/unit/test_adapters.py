"""The adapters that had no fast tests of their own (issue 11): the council file's errors, the
metrics collector and the embedded event log. Real files in a temporary folder; no fakes."""

from __future__ import annotations

import stat
import time
from datetime import date
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from casetime.eventlog import EventLog
from kpi.adapters.consumer import ConsumerStats
from kpi.adapters.council_file import CouncilConfigError, parse_council_config
from kpi.adapters.metrics import KpiCollector
from kpi.adapters.snapshots import RefreshHealth
from kpi.domain.council import Comparator, Comparators, CouncilConfig, KpiTarget
from tests.support.history import referral, referral_decision, run

# --- the council file ---------------------------------------------------------------------------


def test_a_bad_council_file_names_the_file_line_and_field() -> None:
    text = "council: Test\nservices:\n  Front Door: [MASH]\nkpis:\n  ASMT-45WD:\n    target: lots\n"
    with pytest.raises(CouncilConfigError) as refused:
        parse_council_config(text, "council.yaml")
    (line,) = str(refused.value).splitlines()
    assert line.startswith("council.yaml:6: kpis.ASMT-45WD.target: ")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("council: Test\n  bad: indentation\n", "council.yaml:2: not valid YAML"),
        ("", "council.yaml: the file is empty"),
        ("council: Test\nkpis:\n  NOT-A-KPI: {target: 0.9}\n", "unknown KPI ids ['NOT-A-KPI']"),
        ("council: Test\nservices:\n  A: [MASH]\n  B: [MASH]\n", "'MASH' is in both 'A' and 'B'"),
    ],
)
def test_each_kind_of_bad_council_file_is_refused_with_its_reason(text: str, expected: str) -> None:
    with pytest.raises(CouncilConfigError, match=expected.replace("[", r"\[").replace("]", r"\]")):
        parse_council_config(text, "council.yaml")


# --- the metrics collector ----------------------------------------------------------------------


def _scrape(config: CouncilConfig, refreshed: float | None) -> str:
    events = [
        referral("K1", "R-1", "2025-05-01T10:00:00+01:00", team="MASH"),
        referral_decision("K1", "R-1", "2025-05-01T12:00:00+01:00", team="MASH"),
        referral("K2", "R-2", "2025-05-01T10:00:00+01:00", team="Made Up A"),
        referral_decision("K2", "R-2", "2025-05-03T12:00:00+01:00", team="Made Up A"),
        referral("K3", "R-3", "2025-05-01T10:00:00+01:00", team="Made Up B"),
        referral_decision("K3", "R-3", "2025-05-01T11:00:00+01:00", team="Made Up B"),
    ]
    evaluation = run(events, date(2025, 5, 31), services=dict(config.services))
    registry = CollectorRegistry()
    registry.register(
        KpiCollector(
            lambda: evaluation,
            lambda: refreshed,
            ConsumerStats(),
            config=config,
            refresh_health=lambda: RefreshHealth(failures=3, failures_in_a_row=1),
        )
    )
    return generate_latest(registry).decode()


def test_unlisted_teams_are_added_up_under_one_label_and_their_ratio_recomputed() -> None:
    config = CouncilConfig(council="Test", services={"Front Door": ["MASH"]})
    text = _scrape(config, refreshed=time.time() - 30)
    month = 'kpi="REF-DECISION",period="month"'
    # MASH: decided in 2 hours -> 1/1; the two unlisted teams: 1 of 2 in time, added up
    assert f'casetime_kpi_numerator{{{month},team="unlisted"}} 1.0' in text
    assert f'casetime_kpi_denominator{{{month},team="unlisted"}} 2.0' in text
    assert f'casetime_kpi_ratio{{{month},team="unlisted"}} 0.5' in text
    assert f'casetime_kpi_ratio{{{month},team="MASH"}} 1.0' in text
    assert "Made Up" not in text
    assert "casetime_kpi_snapshot_refresh_failures_total 3.0" in text
    age = next(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith("casetime_kpi_snapshot_age_seconds")
    )
    assert 29 <= age < 60


def test_each_figure_is_rated_as_a_state_set_beside_the_council_target() -> None:
    config = CouncilConfig(
        council="Test",
        services={"Front Door": ["MASH"]},
        small_number_threshold=0,
        kpis={
            "REF-DECISION": KpiTarget(
                target=0.9, comparators=Comparators(england=Comparator(value=0.8, year="2024-25"))
            )
        },
    )
    text = _scrape(config, refreshed=time.time())
    month = 'kpi="REF-DECISION",period="month"'
    lines = set(text.splitlines())
    assert 'casetime_kpi_target{kpi="REF-DECISION"} 0.9' in lines
    assert 'casetime_kpi_comparator{comparator="england",kpi="REF-DECISION"} 0.8' in lines
    # MASH 1/1 meets 90%; the unlisted teams' 1/2 is more than 10% below it
    assert f'casetime_kpi_rag{{{month},rag="green",team="MASH"}} 1.0' in lines
    assert f'casetime_kpi_rag{{{month},rag="red",team="MASH"}} 0.0' in lines
    assert f'casetime_kpi_rag{{{month},rag="red",team="unlisted"}} 1.0' in lines
    # exactly one rating per figure
    held = [
        line for line in lines if line.startswith("casetime_kpi_rag{") and line.endswith(" 1.0")
    ]
    figures = [line for line in lines if line.startswith("casetime_kpi_denominator{")]
    assert len(held) == len(figures)


# --- the embedded event log ---------------------------------------------------------------------


async def test_the_embedded_log_keeps_order_and_each_readers_position(tmp_path: Path) -> None:
    path = tmp_path / "state" / "events.sqlite3"
    log = EventLog(path)
    try:
        await log.append([("t", b"k1", b"one"), ("t", b"k2", b"two"), ("t", b"k1", b"three")])
        first = await log.read("kpi", limit=2)
        assert [(r.offset, r.value) for r in first] == [(1, b"one"), (2, b"two")]
        await log.commit("kpi", first[-1].offset + 1)
        assert [r.value for r in await log.read("kpi")] == [b"three"]
        # another reader starts from the beginning
        assert [r.value for r in await log.read("rebuild")] == [b"one", b"two", b"three"]
        assert (await log.end_offset(), await log.committed("kpi")) == (3, 3)
    finally:
        log.close()
    # reopened, nothing is lost and the position holds
    again = EventLog(path)
    try:
        assert [r.value for r in await again.read("kpi")] == [b"three"]
    finally:
        again.close()
    # children's case events: only this user may read the file or open its folder
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
