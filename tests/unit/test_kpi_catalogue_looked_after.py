"""Looked-after children KPIs (catalogue section 3): CLA-VISITS, CLA-REVIEWS, CLA-HEALTH,
CLA-DENTAL, PLACEMENT-3PLUS, PLACEMENT-LONGTERM, RETURN-12M, SW-CHANGES.

Ages come from birth_month "YYYY-MM" on period_of_care_started, taken as the 1st of the month.
"""

from __future__ import annotations

from datetime import date

from casetime.events import EventEnvelope
from tests.support.history import (
    case_closed,
    dated_check,
    ev,
    nd,
    period_of_care,
    placement,
    referral,
    review_conference,
    run,
    visit,
)


def test_cla_visits_within_1_week_of_placement_then_6_weeks_or_3_months_if_permanent() -> None:
    events = [
        # L1: placed Fri 20 Jun 2025, not visited: first visit due 27 Jun -> late at 30 Jun
        *period_of_care("L1", "POC-1", "2025-06-20"),
        *placement("L1", "PL-1", "2025-06-20", "POC-1"),
        # L2: placed 20 Jun, visited 27 Jun (the 1-week boundary): next due 8 Aug -> in time
        *period_of_care("L2", "POC-2", "2025-06-20"),
        *placement("L2", "PL-2", "2025-06-20", "POC-2"),
        visit("L2", "V-2", "2025-06-27", "looked_after"),
        # L3: permanent placement from 2 Jan 2023; visits 1 Mar 2024 and 15 Apr 2025, both
        # after the placement's first year -> 3 months -> next due 15 Jul 2025 -> in time
        *period_of_care("L3", "POC-3", "2023-01-01"),
        *placement("L3", "PL-3", "2023-01-02", "POC-3", permanent=True),
        visit("L3", "V-3a", "2024-03-01", "looked_after"),
        visit("L3", "V-3b", "2025-04-15", "looked_after"),
        # L4: the same but not permanent -> 6 weeks -> due 27 May 2025 -> late
        *period_of_care("L4", "POC-4", "2023-01-01"),
        *placement("L4", "PL-4", "2023-01-02", "POC-4"),
        visit("L4", "V-4a", "2024-03-01", "looked_after"),
        visit("L4", "V-4b", "2025-04-15", "looked_after"),
        # L5: placed Mon 23 Jun, not visited yet: due Mon 30 Jun, the as-at date -> in time
        *period_of_care("L5", "POC-5", "2025-06-23"),
        *placement("L5", "PL-5", "2025-06-23", "POC-5"),
        # L6: the visit was before the current placement started -> it does not count;
        # placed 2 Jun, due 9 Jun -> late
        *period_of_care("L6", "POC-6", "2025-05-01"),
        *placement("L6", "PL-6a", "2025-05-01", "POC-6", ended="2025-06-02"),
        visit("L6", "V-6", "2025-05-30", "looked_after"),
        *placement("L6", "PL-6b", "2025-06-02", "POC-6"),
    ]
    result = run(events, date(2025, 6, 30))
    # in time: L2, L3, L5; late: L1, L4, L6 -> 3/6
    assert nd(result.figure("CLA-VISITS", "as_at")) == (3, 6)
    late = {b.child_id: b.due for b in result.breaches if b.kpi == "CLA-VISITS"}
    assert late == {
        "L1": date(2025, 6, 27),
        "L4": date(2025, 5, 27),
        "L6": date(2025, 6, 9),
    }
    states = {c.clock.child_id: c.state for c in result.open_clocks if c.clock.kpi == "CLA-VISITS"}
    # L2 due Fri 8 Aug: Jul 1-4 (4) ... Aug 4-8 (29) -> 29 working days away -> on track;
    # L5 due today -> due soon
    assert states == {
        "L1": "overdue",
        "L2": "on_track",
        "L3": "on_track",
        "L4": "overdue",
        "L5": "due_soon",
        "L6": "overdue",
    }


def test_cla_reviews_first_within_20_working_days_then_3_months_then_6_months() -> None:
    events = [
        # M1: care from Fri 23 May 2025: May 27-30 (4) [26 May bank holiday], Jun 2-6 (9),
        #   9-13 (14), 16-20 (19), 23 (20) -> due Mon 23 Jun; no review -> late
        *period_of_care("M1", "POC-1", "2025-05-23"),
        # M2: care from Mon 2 Jun: Jun 3-6 (4), 9-13 (9), 16-20 (14), 23-27 (19), 30 (20) ->
        #   due Mon 30 Jun, the as-at date -> not late yet
        *period_of_care("M2", "POC-2", "2025-06-02"),
        # M3: reviews 31 Jan and 30 Apr 2025 -> third due 30 Oct 2025 -> in time
        *period_of_care("M3", "POC-3", "2025-01-06"),
        dated_check("looked_after_review_held", "M3", "LAR-3a", "2025-01-31", "POC-3"),
        dated_check("looked_after_review_held", "M3", "LAR-3b", "2025-04-30", "POC-3"),
        # M4: only the first review, 31 Jan -> second due 30 Apr 2025 -> late
        *period_of_care("M4", "POC-4", "2025-01-06"),
        dated_check("looked_after_review_held", "M4", "LAR-4a", "2025-01-31", "POC-4"),
        # a CP review conference is not a looked-after review
        review_conference("M4", "RCPC-4", "2025-06-01", "CPP-4"),
    ]
    result = run(events, date(2025, 6, 30))
    assert nd(result.figure("CLA-REVIEWS", "as_at")) == (2, 4)
    late = {b.child_id: b.due for b in result.breaches if b.kpi == "CLA-REVIEWS"}
    assert late == {"M1": date(2025, 6, 23), "M4": date(2025, 4, 30)}
    m2 = [
        c for c in result.open_clocks if c.clock.kpi == "CLA-REVIEWS" and c.clock.child_id == "M2"
    ]
    assert [(c.clock.due, c.state) for c in m2] == [(date(2025, 6, 30), "due_soon")]


def test_cla_health_every_6_months_under_5_and_every_12_months_from_5() -> None:
    as_at = date(2025, 4, 30)  # 6 months before: 30 Oct 2024; 12 months before: 30 Apr 2024
    events = [
        # H1: born May 2020 -> 4 on 30 Apr 2025 (5 on 1 May) -> 6 months; seen 30 Oct 2024 -> met
        *period_of_care("H1", "POC-1", "2024-01-15", birth_month="2020-05"),
        dated_check("health_assessment_held", "H1", "HA-1", "2024-10-30", "POC-1"),
        # H2: born May 2020 -> under 5; seen 29 Oct 2024 -> overdue
        *period_of_care("H2", "POC-2", "2024-01-15", birth_month="2020-05"),
        dated_check("health_assessment_held", "H2", "HA-2", "2024-10-29", "POC-2"),
        # H3: born Apr 2020 -> 5 since 1 Apr 2025 -> 12 months; seen 29 Oct 2024 -> met
        *period_of_care("H3", "POC-3", "2024-01-15", birth_month="2020-04"),
        dated_check("health_assessment_held", "H3", "HA-3", "2024-10-29", "POC-3"),
        # H4: born 2010 -> 12 months; seen 29 Apr 2024 -> a day over 12 months -> overdue
        *period_of_care("H4", "POC-4", "2024-01-15", birth_month="2010-01"),
        dated_check("health_assessment_held", "H4", "HA-4", "2024-04-29", "POC-4"),
        # H5: looked after from 1 May 2024, under 12 months -> not in the cohort
        *period_of_care("H5", "POC-5", "2024-05-01", birth_month="2010-01"),
        # H6: two periods of care joined with no gap, from 1 Jun 2023 -> in the cohort; seen
        # 1 Jan 2025 -> met
        *period_of_care("H6", "POC-6a", "2023-06-01", "2024-06-01", reason_ceased="E4A"),
        *period_of_care("H6", "POC-6b", "2024-06-01", birth_month="2015-01"),
        dated_check("health_assessment_held", "H6", "HA-6", "2025-01-01", "POC-6b"),
    ]
    result = run(events, as_at)
    # H1, H3, H6 met; H2, H4 not -> 3/5
    assert nd(result.figure("CLA-HEALTH", "as_at")) == (3, 5)
    # a day earlier H3 is still 4 (born Apr 2020, 5 on 1 Apr 2025 -> as at 31 Mar 2025 she is
    # 4): held to 6 months, 30 Sep 2024 back; seen 29 Oct 2024 -> still met. H1's 30 Oct 2024
    # check is after 30 Sep 2024 -> met; H2 likewise -> met; H4: 12 months back 31 Mar 2024,
    # seen 29 Apr 2024 -> met; H6 met -> 5/5
    assert nd(run(events, date(2025, 3, 31)).figure("CLA-HEALTH", "as_at")) == (5, 5)


def test_cla_health_a_child_turning_5_moves_from_the_6_to_the_12_month_standard() -> None:
    # born Apr 2020, seen 1 Sep 2024, looked after since 2023
    events = [
        *period_of_care("H", "POC-1", "2023-01-01", birth_month="2020-04"),
        dated_check("health_assessment_held", "H", "HA-1", "2024-09-01", "POC-1"),
    ]
    # 31 Mar 2025: aged 4 -> 6 months back is 30 Sep 2024 -> 1 Sep is too old -> 0/1
    assert nd(run(events, date(2025, 3, 31)).figure("CLA-HEALTH", "as_at")) == (0, 1)
    # 1 Apr 2025: aged 5 -> 12 months back is 1 Apr 2024 -> met -> 1/1
    assert nd(run(events, date(2025, 4, 1)).figure("CLA-HEALTH", "as_at")) == (1, 1)


def test_cla_dental_within_12_months_for_children_looked_after_12_months() -> None:
    events = [
        *period_of_care("D1", "POC-1", "2024-01-15"),
        dated_check("dental_check_held", "D1", "DC-1", "2024-04-30", "POC-1"),  # 12 months: met
        *period_of_care("D2", "POC-2", "2024-01-15"),
        dated_check("dental_check_held", "D2", "DC-2", "2024-04-29", "POC-2"),  # a day over
        *period_of_care("D3", "POC-3", "2024-01-15"),  # never checked
        *period_of_care("D4", "POC-4", "2024-05-01"),  # looked after under 12 months
    ]
    assert nd(run(events, date(2025, 4, 30)).figure("CLA-DENTAL", "as_at")) == (1, 3)


def test_placement_3plus_counts_placements_starting_in_the_12_months_before() -> None:
    # the 12 months before 30 Apr 2025: 30 Apr 2024 (exactly 12 months before, included:
    # catalogue section 10.6) to 30 Apr 2025
    events = [
        *period_of_care("G1", "POC-1", "2024-04-30"),
        *placement("G1", "PL-1a", "2024-04-30", "POC-1", ended="2024-09-01"),  # the first day
        *placement("G1", "PL-1b", "2024-09-01", "POC-1", ended="2025-02-01"),
        *placement("G1", "PL-1c", "2025-02-01", "POC-1"),
        *period_of_care("G2", "POC-2", "2024-05-01"),
        *placement("G2", "PL-2a", "2024-05-01", "POC-2", ended="2024-09-01"),
        *placement("G2", "PL-2b", "2024-09-01", "POC-2", ended="2025-02-01"),
        *placement("G2", "PL-2c", "2025-02-01", "POC-2"),
        *period_of_care("G3", "POC-3", "2024-05-01"),
        *placement("G3", "PL-3", "2024-05-01", "POC-3"),
        *period_of_care("G4", "POC-4", "2024-04-29"),
        *placement("G4", "PL-4a", "2024-04-29", "POC-4", ended="2024-09-01"),  # a day outside
        *placement("G4", "PL-4b", "2024-09-01", "POC-4", ended="2025-02-01"),
        *placement("G4", "PL-4c", "2025-02-01", "POC-4"),
    ]
    # G1: 3 in the window -> counted; G2: 3 -> counted; G3: 1; G4: 2 -> 2/4
    assert nd(run(events, date(2025, 4, 30)).figure("PLACEMENT-3PLUS", "as_at")) == (2, 4)


def test_placement_longterm_under_16_in_care_2_5_years_and_same_placement_2_years() -> None:
    # as at 31 Mar 2025: 2.5 years back is 30 Sep 2022 (31 Sep clamps); 2 years is 31 Mar 2023
    events = [
        # T1: aged 13, in care from 30 Sep 2022, placed 31 Mar 2023 -> met
        *period_of_care("T1", "POC-1", "2022-09-30", birth_month="2012-01"),
        *placement("T1", "PL-1", "2023-03-31", "POC-1"),
        # T2: placed 1 Apr 2023 -> a day short of 2 years -> not met
        *period_of_care("T2", "POC-2", "2022-09-30", birth_month="2012-01"),
        *placement("T2", "PL-2", "2023-04-01", "POC-2"),
        # T3: born Mar 2009 -> 16 on 1 Mar 2025 -> not under 16 -> out of the cohort
        *period_of_care("T3", "POC-3", "2020-01-01", birth_month="2009-03"),
        *placement("T3", "PL-3", "2020-01-01", "POC-3"),
        # T4: in care from 1 Oct 2022 -> a day short of 2.5 years -> out of the cohort
        *period_of_care("T4", "POC-4", "2022-10-01", birth_month="2012-01"),
        *placement("T4", "PL-4", "2022-10-01", "POC-4"),
    ]
    assert nd(run(events, date(2025, 3, 31)).figure("PLACEMENT-LONGTERM", "as_at")) == (1, 2)


def test_return_12m_cohort_is_children_who_went_home_in_the_12_months_before_the_period() -> None:
    # as at 30 Jun 2025. Cohorts (left care home, REC E13):
    #   month (from 1 Jun 2025): left 1 Jun 2024 to 31 May 2025
    #   quarter and year to date (from 1 Apr 2025): left 1 Apr 2024 to 31 Mar 2025
    #   rolling 12 months (from 1 Jul 2024): left 1 Jul 2023 to 30 Jun 2024
    events = [
        # R1: home 1 Jun 2024, back in care 31 May 2025 (within 12 months) -> returned
        *period_of_care("R1", "POC-1a", "2023-01-01", "2024-06-01"),
        *period_of_care("R1", "POC-1b", "2025-05-31"),
        # R2: home 15 May 2024, not back
        *period_of_care("R2", "POC-2", "2023-01-01", "2024-05-15"),
        # R3: home 20 May 2025, back 10 Jun 2025 -> returned
        *period_of_care("R3", "POC-3a", "2025-01-01", "2025-05-20"),
        *period_of_care("R3", "POC-3b", "2025-06-10"),
        # R4: left to something other than home (E4A) -> never in the cohort
        *period_of_care("R4", "POC-4a", "2023-01-01", "2024-08-01", reason_ceased="E4A"),
        *period_of_care("R4", "POC-4b", "2024-09-01"),
        # R5: home 1 Aug 2023, back 1 Sep 2024: 13 months -> not within 12 months
        *period_of_care("R5", "POC-5a", "2023-01-01", "2023-08-01"),
        *period_of_care("R5", "POC-5b", "2024-09-01"),
    ]
    result = run(events, date(2025, 6, 30))
    # month: R1 returned, R3 returned -> 2/2
    assert nd(result.figure("RETURN-12M", "month")) == (2, 2)
    # quarter and year to date: R1 returned, R2 not -> 1/2
    assert nd(result.figure("RETURN-12M", "quarter")) == (1, 2)
    assert nd(result.figure("RETURN-12M", "financial_year_to_date")) == (1, 2)
    # rolling 12 months: R1 returned, R2 not, R5 not -> 1/3
    assert nd(result.figure("RETURN-12M", "rolling_12_months")) == (1, 3)


def test_sw_changes_counts_3_or_more_workers_in_the_12_months_including_the_one_at_the_start() -> (
    None
):
    def allocated(child: str, when: str, worker: str) -> EventEnvelope:
        return ev("case_allocated", child, f"CASE-{child}", when, {}, worker_id=worker)

    # as at 30 Jun 2025; the 12 months start 30 Jun 2024
    events = [
        # S1: W1 held it at the start, then W2 and W3 -> 3 -> counted
        referral("S1", "R-1", "2024-01-01"),
        allocated("S1", "2024-01-05", "W1"),
        allocated("S1", "2024-09-01", "W2"),
        allocated("S1", "2025-02-01", "W3"),
        # S2: W1, W2, back to W1 -> 2 distinct -> not
        referral("S2", "R-2", "2024-01-01"),
        allocated("S2", "2024-01-05", "W1"),
        allocated("S2", "2024-06-30", "W1"),
        allocated("S2", "2024-09-01", "W2"),
        allocated("S2", "2025-01-01", "W1"),
        # S3: W2 held it until the window's first day (included, section 10.6), when W3 took
        #   over; then W4 -> 3 -> counted
        referral("S3", "R-3", "2023-01-01"),
        allocated("S3", "2023-01-01", "W1"),
        allocated("S3", "2024-06-29", "W2"),
        allocated("S3", "2024-06-30", "W3"),
        allocated("S3", "2025-01-01", "W4"),
        # S4: case closed 1 Mar 2025 -> not open at the as-at date -> out of the cohort
        referral("S4", "R-4", "2024-01-01"),
        allocated("S4", "2024-07-01", "W1"),
        allocated("S4", "2024-08-01", "W2"),
        allocated("S4", "2024-09-01", "W3"),
        case_closed("S4", "R-4", "2025-03-01"),
    ]
    result = run(events, date(2025, 6, 30))
    assert nd(result.figure("SW-CHANGES", "as_at")) == (2, 3)
