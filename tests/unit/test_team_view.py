"""The team manager's view (kpi.domain.team_view): open work by urgency as "day N of M", and what
the month ends on if the clocks due before its end are met, or missed; worked by hand."""

from __future__ import annotations

from datetime import date
from typing import Any

from kpi.domain.council import CouncilConfig, KpiTarget, Rag
from kpi.domain.evaluation import ClockState
from kpi.domain.team_view import at_risk, team_clocks, team_figures
from tests.support.history import assessments_in_february, nd, run

AS_AT = date(2025, 2, 14)  # a Friday; February 2025 has no bank holiday
SETTINGS: dict[str, Any] = {
    "small_number_threshold": 0,
    "kpis": {"ASMT-45WD": KpiTarget(target=0.85)},
}


def test_the_month_ends_higher_if_the_clocks_due_are_met_and_lower_if_they_are_missed() -> None:
    config = CouncilConfig(council="Test", **SETTINGS)
    evaluation = run(assessments_in_february(), AS_AT, **SETTINGS)
    risk = next(r for r in at_risk(evaluation, "North", config) if r.kpi == "ASMT-45WD")
    assert risk.month_end == date(2025, 2, 28)
    assert nd(risk.now) == (2, 3)
    # B1 and B2 are due by the 28th; C1 is late already and D1 falls due in April
    assert (risk.due, risk.overdue) == (2, 1)
    assert nd(risk.if_met) == (4, 5)
    assert nd(risk.if_missed) == (2, 5)
    assert risk.if_met.value == 0.8
    # 85% target, amber within 10% of it (above 76.5%)
    assert (risk.rag_now, risk.rag_if_met, risk.rag_if_missed) == (Rag.RED, Rag.AMBER, Rag.RED)


def test_open_work_comes_overdue_first_then_soonest_due_each_as_day_n_of_m() -> None:
    evaluation = run(assessments_in_february(), AS_AT, **SETTINGS)
    lines = [
        line for line in team_clocks(evaluation, "North") if line.status.clock.kpi == "ASMT-45WD"
    ]
    assert [line.status.clock.child_id for line in lines] == ["C1", "B1", "B2", "D1"]
    assert [line.status.state for line in lines] == [
        ClockState.OVERDUE,
        ClockState.DUE_SOON,
        ClockState.DUE_SOON,
        ClockState.ON_TRACK,
    ]
    # referred 15 November: 62 working days to 14 February; 16 December: 41; 17 December:
    # 40; 3 February: 9
    assert [(line.day, line.of, line.unit) for line in lines] == [
        (62, 45, "working days"),
        (41, 45, "working days"),
        (40, 45, "working days"),
        (9, 45, "working days"),
    ]
    assert all(line.status.clock.team == "North" for line in team_clocks(evaluation, "North"))


def test_the_team_figures_are_the_evaluations_for_that_team_rated() -> None:
    config = CouncilConfig(council="Test", **SETTINGS)
    evaluation = run(assessments_in_february(), AS_AT, **SETTINGS)
    rows = {row.kpi: row for row in team_figures(evaluation, "North", config)}
    assert nd(rows["ASMT-45WD"].figure) == (2, 3)
    assert rows["ASMT-45WD"].rag is Rag.RED
    assert rows["ASMT-45WD"].target == 0.85
    assert rows["ASMT-45WD"].period == "month"
