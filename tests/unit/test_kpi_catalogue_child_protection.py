"""Child protection KPIs (catalogue section 3): ICPC-15WD (and its DfE basis), CORE-10WD,
RCPC-TIMELY, CP-VISITS, CP-15M, CPP-2YRS, CPP-REPEAT (and its 2-year variant).

2025 bank holidays used: Good Friday 18 Apr, Easter Monday 21 Apr, 5 May, 26 May.
"""

from __future__ import annotations

from datetime import date

from casetime.events import EventEnvelope
from tests.support.history import (
    core_group,
    cp_plan,
    icpc,
    nd,
    referral,
    review_conference,
    run,
    section_47,
    strategy,
    visit,
)


def _conferences() -> list[EventEnvelope]:
    return [
        # P1: strategy Mon 14 Apr, section 47 Tue 15 Apr, ICPC Wed 7 May.
        #   from strategy: Apr 15-17 (3), [18, 21], 22-25 (7), 28-30 (10), May 1-2 (12),
        #   [5 May], 6-7 (14) -> 14 -> in time; from s47 start: 13 -> in time
        referral("P1", "R-1", "2025-04-01"),
        strategy("P1", "SD-1", "2025-04-14T10:00:00+01:00", "R-1"),
        section_47("P1", "S47-1", "2025-04-15", "R-1", "SD-1"),
        icpc("P1", "ICPC-1", "2025-05-07", "S47-1"),
        # P2: strategy Tue 1 Apr, section 47 Thu 3 Apr, ICPC Fri 25 Apr.
        #   from strategy: Apr 2-4 (3), 7-11 (8), 14-17 (12), 22-25 (16) -> breach
        #   from s47: Apr 4 (1), 7-11 (6), 14-17 (10), 22-25 (14) -> in time
        referral("P2", "R-2", "2025-03-31"),
        strategy("P2", "SD-2", "2025-04-01T10:00:00+01:00", "R-2"),
        section_47("P2", "S47-2", "2025-04-03", "R-2", "SD-2"),
        icpc("P2", "ICPC-2", "2025-04-25", "S47-2"),
    ]


def test_icpc_15wd_counts_from_the_initiating_strategy_discussion_and_dfe_from_s47_start() -> None:
    result = run(_conferences(), date(2025, 5, 31))
    # month May: ICPC-1 only -> 1/1; quarter Apr-Jun: ICPC-1 met, ICPC-2 (16) breach -> 1/2
    assert nd(result.figure("ICPC-15WD", "month")) == (1, 1)
    assert nd(result.figure("ICPC-15WD", "quarter")) == (1, 2)
    # DfE basis, quarter: 13 and 14 working days -> 2/2
    assert nd(result.figure("ICPC-15WD-DFE", "quarter")) == (2, 2)
    (breach,) = [b for b in result.breaches if b.kpi == "ICPC-15WD" and b.period == "quarter"]
    # due: the 15th working day after Tue 1 Apr is Thu 24 Apr
    assert (breach.episode_id, breach.due, breach.reason) == (
        "ICPC-2",
        date(2025, 4, 24),
        "reason_not_recorded",
    )


def test_core_10wd_counts_plans_whose_first_core_group_is_due_by_the_as_at_date() -> None:
    events = [
        *_conferences(),
        # plan from ICPC-1 (Wed 7 May): due May 8-9 (2), 12-16 (7), 19-21 (10) -> Wed 21 May;
        # first core group Wed 21 May -> in time
        *cp_plan("P1", "CPP-1", "2025-05-07", icpc_id="ICPC-1"),
        core_group("P1", "CG-1", "2025-05-21", "CPP-1"),
        # plan from ICPC-2 (Fri 25 Apr): Apr 28-30 (3), May 1-2 (5), [5 May], 6-9 (9), 12 (10)
        # -> due Mon 12 May; first core group Tue 13 May -> breach
        *cp_plan("P2", "CPP-2", "2025-04-25", icpc_id="ICPC-2"),
        core_group("P2", "CG-2", "2025-05-13", "CPP-2"),
        core_group("P2", "CG-3", "2025-05-01", "CPP-OTHER"),  # another plan's: ignored
        # plan started Wed 28 May: due Wed 11 Jun, after the as-at date -> not yet counted
        *cp_plan("P3", "CPP-3", "2025-05-28"),
    ]
    result = run(events, date(2025, 5, 31))
    # counted on the plan's start: month May -> CPP-1 -> 1/1; quarter -> CPP-1, CPP-2 -> 1/2
    assert nd(result.figure("CORE-10WD", "month")) == (1, 1)
    assert nd(result.figure("CORE-10WD", "quarter")) == (1, 2)
    # CPP-3's first core group is an open clock: due Wed 11 Jun; working days left after Sat
    # 31 May: Jun 2-6 (5), 9-11 (8) -> 8 -> on track
    (clock,) = [
        c
        for c in result.open_clocks
        if c.clock.kpi == "CORE-10WD" and c.clock.episode_id == "CPP-3"
    ]
    assert (clock.clock.due, clock.working_days_left, clock.state) == (
        date(2025, 6, 11),
        8,
        "on_track",
    )


def test_rcpc_timely_first_review_within_3_months_then_6_months_after_the_previous() -> None:
    events = [
        # X: plan 10 Oct 2024; first review due 10 Jan 2025, held 9 Jan -> in time (counted
        # 10 Jan); second due 9 Jul 2025, not held by 31 Jul -> late (counted 9 Jul)
        *cp_plan("X", "CPP-X", "2024-10-10"),
        review_conference("X", "RCPC-X1", "2025-01-09", "CPP-X"),
        # Y: plan 2 Apr 2025; due 2 Jul, held 3 Jul -> late
        *cp_plan("Y", "CPP-Y", "2025-04-02"),
        review_conference("Y", "RCPC-Y1", "2025-07-03", "CPP-Y"),
        # Z: plan 15 Apr 2025; due 15 Jul, held 15 Jul -> in time
        *cp_plan("Z", "CPP-Z", "2025-04-15"),
        review_conference("Z", "RCPC-Z1", "2025-07-15", "CPP-Z"),
        # W: plan 1 Apr 2025 ended 20 Jun, before its first review was due (1 Jul) -> none due
        *cp_plan("W", "CPP-W", "2025-04-01", "2025-06-20"),
    ]
    result = run(events, date(2025, 7, 31))
    # month Jul: X second (late), Y (late), Z (in time) -> 1/3
    assert nd(result.figure("RCPC-TIMELY", "month")) == (1, 3)
    # rolling 12 months from 1 Aug 2024 adds X's first review (10 Jan, in time) -> 2/4
    assert nd(result.figure("RCPC-TIMELY", "rolling_12_months")) == (2, 4)
    # X's next review is still an open clock, overdue since 9 Jul
    (clock,) = [
        c for c in result.open_clocks if c.clock.kpi == "RCPC-TIMELY" and c.clock.child_id == "X"
    ]
    assert (clock.clock.due, clock.state) == (date(2025, 7, 9), "overdue")


def test_rcpc_timely_a_review_due_today_and_not_yet_held_is_not_late() -> None:
    # Plan 30 Apr 2025: first review due 30 Jul 2025 (3 months). As at 30 Jul it can still be
    # held today: it is not late, and the open clock agrees (due soon, not overdue).
    # PRODUCTION BUG (child_protection._review_dues): `due <= as_at` counts it as late on the
    # due day itself; CLA-REVIEWS and the open clocks treat the due day as still in time.
    events = cp_plan("V", "CPP-V", "2025-04-30")
    result = run(events, date(2025, 7, 30))
    (clock,) = [c for c in result.open_clocks if c.clock.kpi == "RCPC-TIMELY"]
    assert clock.state == "due_soon"
    assert not [b for b in result.breaches if b.kpi == "RCPC-TIMELY"]
    assert nd(result.figure("RCPC-TIMELY", "month")) == (0, 0)


def test_cp_visits_last_seen_within_10_working_days_at_the_as_at_date() -> None:
    events = [
        # V1: plan 1 Apr; seen Fri 16 May: May 19-23 (5), [26 May], 27-30 (9) -> in time
        *cp_plan("V1", "CPP-1", "2025-04-01"),
        visit("V1", "VIS-1", "2025-05-16", "child_protection"),
        # V2: seen Thu 15 May -> 10 -> in time (the boundary)
        *cp_plan("V2", "CPP-2", "2025-04-01"),
        visit("V2", "VIS-2", "2025-05-15", "child_protection"),
        # V5: seen Wed 14 May -> 11 -> late; a visit on 29 May did not see the child
        *cp_plan("V5", "CPP-5", "2025-04-01"),
        visit("V5", "VIS-5", "2025-05-14", "child_protection"),
        visit("V5", "VIS-6", "2025-05-29", "child_protection", seen=False),
        # V4: seen on a visit recorded as looked-after: a visit in which the child was seen
        #   counts whatever it names (catalogue section 10.4) -> in time
        *cp_plan("V4", "CPP-4", "2025-04-01"),
        visit("V4", "VIS-4", "2025-05-28", "looked_after"),
        # V3: plan Tue 20 May -> open 7 working days (21-23, 27-30) < 10 -> not in the cohort
        *cp_plan("V3", "CPP-3", "2025-05-20"),
    ]
    result = run(events, date(2025, 5, 30))
    # point in time, as at Fri 30 May: V1, V2, V4 in time; V5 late -> 3/4
    assert nd(result.figure("CP-VISITS", "as_at")) == (3, 4)
    assert nd(result.figure("CP-VISITS", "month")) == (0, 0)  # not a period KPI
    late = {b.child_id for b in result.breaches if b.kpi == "CP-VISITS"}
    assert late == {"V5"}


def test_cp_15m_counts_plans_open_15_months_or_more_at_the_as_at_date() -> None:
    events = [
        # 15 months before 30 May 2025: 30 Feb 2024 clamps to 29 Feb 2024 (a leap year)
        *cp_plan("A", "CPP-A", "2024-02-29"),  # exactly 15 months -> counted
        *cp_plan("B", "CPP-B", "2024-03-01"),  # a day short -> not
        *cp_plan("C", "CPP-C", "2023-01-01", "2025-05-30"),  # ended on the as-at date -> not open
    ]
    result = run(events, date(2025, 5, 30))
    assert nd(result.figure("CP-15M", "as_at")) == (1, 2)


def test_cpp_2yrs_counts_plans_ended_in_period_that_lasted_2_years_or_more() -> None:
    events = [
        *cp_plan("A", "CPP-A", "2023-05-10", "2025-05-10"),  # exactly 2 years -> counted
        *cp_plan("B", "CPP-B", "2023-05-11", "2025-05-10"),  # a day short -> not
        *cp_plan("C", "CPP-C", "2022-01-10", "2025-04-10"),  # 3 years, ended in April
    ]
    result = run(events, date(2025, 5, 31))
    assert nd(result.figure("CPP-2YRS", "month")) == (1, 2)
    assert nd(result.figure("CPP-2YRS", "quarter")) == (2, 3)


def test_cpp_repeat_counts_any_earlier_plan_and_the_2_year_variant_only_recent_ones() -> None:
    events = [
        # Q1: earlier plan ended 6 Jan 2021 -> repeat; ended more than 2 years ago -> not 2Y
        *cp_plan("Q1", "CPP-Q1a", "2020-01-06", "2021-01-06"),
        *cp_plan("Q1", "CPP-Q1b", "2025-05-06"),
        # Q2: earlier plan ended 6 May 2023, exactly 2 years before 6 May 2025 -> both
        *cp_plan("Q2", "CPP-Q2a", "2022-06-01", "2023-05-06"),
        *cp_plan("Q2", "CPP-Q2b", "2025-05-06"),
        # Q3: first plan -> neither
        *cp_plan("Q3", "CPP-Q3", "2025-05-12"),
    ]
    result = run(events, date(2025, 5, 31))
    # plans started in May 2025: Q1b, Q2b, Q3
    assert nd(result.figure("CPP-REPEAT", "month")) == (2, 3)
    assert nd(result.figure("CPP-REPEAT-2Y", "month")) == (1, 3)
