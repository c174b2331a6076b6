"""Court and whole-council KPIs (catalogue section 3): PLO-16W, PROC-26W (per child and per
application), PROC-WEEKS (mean and median), RATE-CIN, RATE-S47, RATE-CP, RATE-CLA.

26 weeks "beginning with the day" the application was issued: the issue day is day 1, so the
last compliant day is issue + 181 days (Children Act 1989 s.32).
"""

from __future__ import annotations

from datetime import date

import pytest

from casetime.events import EventEnvelope
from kpi.domain.evaluation import AS_AT
from tests.support.history import (
    case_closed,
    cp_plan,
    ev,
    nd,
    period_of_care,
    plo,
    proceedings,
    referral,
    run,
    section_47,
)


def test_plo_16w_concluded_within_112_days_of_starting() -> None:
    events = [
        # 10 Mar to 30 Jun 2025: 21 + 30 + 31 + 30 = 112 days -> in time
        *plo("K1", "PLO-1", "2025-03-10", "2025-06-30"),
        # 9 Mar to 30 Jun: 113 days -> breach
        *plo("K2", "PLO-2", "2025-03-09", "2025-06-30"),
        # started 1 May, not concluded -> open clock due 1 May + 112 days = 21 Aug
        *plo("K3", "PLO-3", "2025-05-01"),
    ]
    result = run(events, date(2025, 6, 30))
    assert nd(result.figure("PLO-16W", "month")) == (1, 2)
    (breach,) = [b for b in result.breaches if b.kpi == "PLO-16W" and b.period == "month"]
    assert (breach.episode_id, breach.due) == ("PLO-2", date(2025, 6, 29))
    (clock,) = [c for c in result.open_clocks if c.clock.kpi == "PLO-16W"]
    assert (clock.clock.episode_id, clock.clock.due, clock.state) == (
        "PLO-3",
        date(2025, 8, 21),
        "on_track",
    )


def _proceedings() -> list[EventEnvelope]:
    return [
        # application APP-1 for two children, issued Mon 6 Jan 2025:
        #   6 Jan + 181 days = 6 Jul (Jan 25 + Feb 28 + Mar 31 + Apr 30 + May 31 + Jun 30 + 6)
        #   K1 concluded Sun 6 Jul = day 182 counting the issue day as day 1 -> in time
        #   K2 concluded Mon 7 Jul = issue + 182 days -> breach, even with an 8-week extension
        *proceedings("K1", "APP-1", "2025-01-06", "2025-07-06"),
        *proceedings("K2", "APP-1", "2025-01-06", "2025-07-07", extension_weeks=8),
        # APP-2: issued 31 Jul 2024, concluded 31 Jul 2025: 365 days -> breach; due
        #   31 Jul 2024 + 181 = 28 Jan 2025 (Aug 31 + Sep 30 + Oct 31 + Nov 30 + Dec 31 + 28)
        *proceedings("K3", "APP-2", "2024-07-31", "2025-07-31"),
        # APP-3: issued 3 Mar 2025, concluded 1 Jul: 31 + 30 + 31 + 28 = 120 days -> in time
        *proceedings("K4", "APP-3", "2025-03-03", "2025-07-01"),
        # APP-4: issued 1 Jun 2025, open -> an open clock due 1 Jun + 181 = 29 Nov 2025
        *proceedings("K5", "APP-4", "2025-06-01"),
    ]


def test_proc_26w_day_181_after_issue_is_in_time_and_day_182_is_not() -> None:
    result = run(_proceedings(), date(2025, 7, 31))
    # per child, July: K1 met, K2 breach, K3 breach, K4 met -> 2/4
    assert nd(result.figure("PROC-26W", "month")) == (2, 4)
    due = {
        b.child_id: b.due for b in result.breaches if b.kpi == "PROC-26W" and b.period == "month"
    }
    assert due == {"K2": date(2025, 7, 6), "K3": date(2025, 1, 28)}


def test_proc_26w_application_concludes_with_its_last_child() -> None:
    result = run(_proceedings(), date(2025, 7, 31))
    # APP-1 concluded 7 Jul (K2, day 182) -> breach; APP-2 breach; APP-3 in time -> 1/3
    assert nd(result.figure("PROC-26W-APPLICATION", "month")) == (1, 3)


def test_proc_weeks_mean_and_median_weeks_from_issue_to_final_order() -> None:
    result = run(_proceedings(), date(2025, 7, 31))
    # durations 181, 182, 365, 120 days
    # mean: 848 / 4 / 7 = 30.2857... weeks
    mean = result.figure("PROC-WEEKS", "month")
    assert mean.denominator == 4
    assert mean.value == pytest.approx(848 / 28)
    # median: sorted 120, 181, 182, 365 -> (181 + 182) / 2 / 7 = 25.928... weeks
    assert result.figure("PROC-WEEKS-MEDIAN", "month").value == pytest.approx(363 / 14)


def test_proc_26w_open_clock_is_due_181_days_after_issue() -> None:
    result = run(_proceedings(), date(2025, 7, 31))
    clocks = [(c.clock.child_id, c.clock.due, c.state) for c in result.open_clocks]
    assert ("K5", date(2025, 11, 29), "on_track") in [c for c in clocks if c[0] == "K5"]
    assert not [c for c in result.open_clocks if c.clock.child_id in {"K1", "K2", "K3", "K4"}]


def _children() -> list[EventEnvelope]:
    return [
        # A: open referral, on a CP plan, section 47 started 10 Jun 2025
        referral("A", "R-A", "2025-01-10"),
        *cp_plan("A", "CPP-A", "2025-03-01"),
        section_47("A", "S47-A", "2025-06-10", "R-A"),
        # B: referral closed 1 May 2025, but on an open CIN plan
        referral("B", "R-B", "2025-01-10"),
        case_closed("B", "R-B", "2025-05-01"),
        ev("cin_plan_started", "B", "CIN-B", "2025-02-01", {}),
        # C: looked after
        *period_of_care("C", "POC-C", "2024-06-01"),
        # D: on a CP plan; section 47s on 15 Apr 2025 and 1 Mar 2025
        *cp_plan("D", "CPP-D", "2025-04-20", team="South"),
        section_47("D", "S47-D1", "2025-04-15", "R-D"),
        section_47("D", "S47-D2", "2025-03-01", "R-D"),
        # E: referral closed, nothing open -> not a child in need at the as-at date
        referral("E", "R-E", "2025-01-10"),
        case_closed("E", "R-E", "2025-02-01"),
        # F: CP plan ended before the as-at date; section 47 in 2024, before the rolling year
        *cp_plan("F", "CPP-F", "2024-01-01", "2025-06-01"),
        section_47("F", "S47-F", "2024-06-30", "R-F"),
    ]


def test_rates_are_per_10000_of_the_configured_population_and_only_for_the_council() -> None:
    result = run(_children(), date(2025, 6, 30), population_0_to_17=20_000)
    # children in need at 30 Jun: A, B, C, D -> 4 / 20,000 * 10,000 = 2.0
    assert result.figure("RATE-CIN", AS_AT) == result.figure("RATE-CIN", "as_at")
    cin = result.figure("RATE-CIN", "as_at")
    assert (cin.numerator, cin.denominator, cin.value) == (4, 20_000, 2.0)
    # on a CP plan: A, D -> 1.0; looked after: C -> 0.5
    assert result.figure("RATE-CP", "as_at").value == 1.0
    assert result.figure("RATE-CLA", "as_at").value == 0.5
    # section 47s started: month Jun (A) -> 1 -> 0.5; quarter Apr-Jun (A, D1) -> 1.0;
    # rolling 12 months from 1 Jul 2024 (A, D1, D2) -> 1.5
    assert result.figure("RATE-S47", "month").value == 0.5
    assert result.figure("RATE-S47", "quarter").value == 1.0
    assert result.figure("RATE-S47", "financial_year_to_date").value == 1.0
    assert result.figure("RATE-S47", "rolling_12_months").value == pytest.approx(1.5)
    rate_teams = {f.team for f in result.figures if f.kpi.startswith("RATE-")}
    assert rate_teams == {"all"}
    assert result.figure("RATE-CP", "as_at", "South").value is None
    assert not [f for f in result.service_figures if f.kpi.startswith("RATE-")]


def test_rates_have_no_value_without_a_configured_population() -> None:
    result = run(_children(), date(2025, 6, 30))
    cin = result.figure("RATE-CIN", "as_at")
    assert (cin.numerator, cin.denominator, cin.value) == (4, 0, None)
