"""The catalogue's readings (../shared/kpi-catalogue.md section 10), computed by hand at team
level: whose figure each cohort member is, members whose start event is missing, CORE-10WD's
due day, visits, cohorts of children, 12-month windows, shared exception reasons, open clocks
(hour clocks included) and the child's month of birth."""

from __future__ import annotations

from datetime import date

from casetime.events import EventEnvelope
from kpi.domain.data_quality import Check
from kpi.domain.evaluation import Evaluation
from tests.support.history import (
    assessment,
    case_closed,
    child_details,
    contact,
    cp_plan,
    dated_check,
    ev,
    nd,
    period_of_care,
    placement,
    referral,
    run,
    visit,
)


def _clocks(result: Evaluation, kpi: str) -> dict[str, tuple[str, str]]:
    """The open clocks of one KPI: episode id -> (team, state)."""
    return {
        c.clock.episode_id: (c.clock.team, c.state.value)
        for c in result.open_clocks
        if c.clock.kpi == kpi
    }


# --- 10.1 team --------------------------------------------------------------------------------


def _front_door_september() -> list[EventEnvelope]:
    return [
        # K1: referred in March, and again on Mon 1 Sep: a re-referral, decided by the front door
        #   in 5 hours; the case is closed in October by an assessment team
        referral("K1", "R-0", "2025-03-03T10:00:00+00:00", team="Front Door"),
        referral("K1", "R-1", "2025-09-01T10:00:00+01:00", team="Front Door"),
        ev("referral_decision", "K1", "R-1", "2025-09-01T15:00:00+01:00",
           {"no_further_action": False}, team="Front Door"),
        # K2: decided after 26 hours -> late
        referral("K2", "R-2", "2025-09-02T10:00:00+01:00", team="Front Door"),
        ev("referral_decision", "K2", "R-2", "2025-09-03T12:00:00+01:00",
           {"no_further_action": False}, team="Front Door"),
    ]  # fmt: skip


def test_a_decision_counts_for_the_team_that_made_it_not_the_team_that_closed_the_case() -> None:
    closed = ev(
        "case_closed", "K1", "R-1", "2025-10-10", {"reason_for_closure": "RC8"},
        team="Assessment North",
    )  # fmt: skip
    events = [*_front_door_september(), closed]
    september = run(events, date(2025, 9, 30))
    assert nd(september.figure("REF-DECISION", "month", "Front Door")) == (1, 2)
    assert nd(september.figure("REF-DECISION", "month", "Assessment North")) == (0, 0)
    # R-1 had a referral of the same child in the 12 months before -> 1 of 2, the front door's
    assert nd(september.figure("REREFERRAL-12M", "month", "Front Door")) == (1, 2)
    # a month later the September decisions are still the front door's
    october = run(events, date(2025, 10, 31))
    year = "financial_year_to_date"
    assert nd(october.figure("REF-DECISION", year, "Front Door")) == (1, 2)
    assert nd(october.figure("REF-DECISION", year, "Assessment North")) == (0, 0)
    assert nd(october.figure("REREFERRAL-12M", year, "Front Door")) == (1, 2)
    assert nd(october.figure("REREFERRAL-12M", year, "Assessment North")) == (0, 0)
    # and the closure in October changed no September figure (RECORDING-LAG aside: the test
    # events all carry one recorded_at)
    before_closure = run(_front_door_september(), date(2025, 9, 30))

    def case_figures(result: Evaluation) -> list[object]:
        return [f for f in result.figures if f.kpi != "RECORDING-LAG"]

    assert case_figures(before_closure) == case_figures(september)


def test_an_assessment_moves_team_across_the_as_at_date() -> None:
    events = [
        referral("K3", "R-3", "2025-09-01", team="Front Door"),
        # started Tue 2 Sep by the front door, authorised Wed 15 Oct by an assessment team:
        # from Mon 1 Sep, Sep 2-30 (21) and Oct 1-3, 6-10, 13-15 (11) -> 32 working days
        *assessment("K3", "A-3", "R-3", "2025-09-02", None, team="Front Door"),
        *assessment("K3", "A-3", "R-3", None, "2025-10-15", team="Assessment North"),
    ]
    # on 30 Sep the open clock is the front door's: nothing after that day moves it
    september = run(events, date(2025, 9, 30))
    assert _clocks(september, "ASMT-45WD") == {"A-3": ("Front Door", "on_track")}
    assert _clocks(september, "ASMT-45WD-DFE") == {"A-3": ("Front Door", "on_track")}
    # REPEAT-ASMT counts assessments started in the period, for the team that started them
    assert nd(september.figure("REPEAT-ASMT", "month", "Front Door")) == (0, 1)
    # on 31 Oct the authorisation counts for the team that authorised it
    october = run(events, date(2025, 10, 31))
    assert nd(october.figure("ASMT-45WD", "month", "Assessment North")) == (1, 1)
    assert nd(october.figure("ASMT-45WD", "month", "Front Door")) == (0, 0)
    assert nd(october.figure("ASMT-45WD-DFE", "month", "Assessment North")) == (1, 1)
    assert october.figure("ASMT-MEDIAN", "month", "Assessment North").value == 31.0
    assert _clocks(october, "ASMT-45WD") == {}


def _section_47_moving_to_child_protection() -> list[EventEnvelope]:
    strategy_payload = {
        "referral_id": "R-4",
        "agencies_attended": ["police", "health", "education"],
        "initiated_section_47": True,
    }
    return [
        referral("K4", "R-4", "2025-09-01T09:00:00+01:00", team="Front Door"),
        ev("strategy_discussion_held", "K4", "SD-4", "2025-09-01T16:00:00+01:00",
           strategy_payload, team="Front Door"),
        ev("section_47_started", "K4", "S47-4", "2025-09-02",
           {"referral_id": "R-4", "strategy_discussion_id": "SD-4"}, team="Front Door"),
        ev("section_47_completed", "K4", "S47-4", "2025-09-12", {"outcome": "icpc_required"},
           team="Child Protection"),
    ]  # fmt: skip


def test_an_icpc_clock_runs_from_the_strategy_discussion_for_the_team_holding_the_enquiry() -> None:
    events = _section_47_moving_to_child_protection()
    # ICPC-15WD from the strategy discussion, Mon 1 Sep: Sep 2-5 (4), 8-12 (9), 15-19 (14),
    # Mon 22 Sep (15); the DfE basis from the section 47 start, Tue 2 Sep: Tue 23 Sep
    on_10th = run(events, date(2025, 9, 10))
    due = {c.clock.kpi: c.clock.due for c in on_10th.open_clocks if c.clock.kpi.startswith("ICPC")}
    assert due == {"ICPC-15WD": date(2025, 9, 22), "ICPC-15WD-DFE": date(2025, 9, 23)}
    assert _clocks(on_10th, "ICPC-15WD") == {"S47-4": ("Front Door", "on_track")}
    # from 12 Sep the enquiry's latest event is child protection's; on Mon 15 Sep the clocks
    # have 5 and 6 working days left
    on_15th = run(events, date(2025, 9, 15))
    assert _clocks(on_15th, "ICPC-15WD") == {"S47-4": ("Child Protection", "due_soon")}
    assert _clocks(on_15th, "ICPC-15WD-DFE") == {"S47-4": ("Child Protection", "on_track")}
    # the ICPC on Wed 24 Sep: 17 working days from the strategy discussion, 16 from the start
    held = ev("initial_cp_conference_held", "K4", "ICPC-4", "2025-09-24",
              {"section_47_id": "S47-4", "child_protection_plan": True},
              team="Child Protection")  # fmt: skip
    result = run([*events, held], date(2025, 9, 30))
    assert nd(result.figure("ICPC-15WD", "month", "Child Protection")) == (0, 1)
    assert nd(result.figure("ICPC-15WD-DFE", "month", "Child Protection")) == (0, 1)
    assert nd(result.figure("ICPC-15WD", "month", "Front Door")) == (0, 0)
    assert _clocks(result, "ICPC-15WD") == {}


def test_sw_changes_counts_a_child_for_the_team_of_their_latest_allocation() -> None:
    def allocated(child: str, when: str, worker: str, team: str) -> EventEnvelope:
        return ev("case_allocated", child, "CASE-" + child, when, {}, team=team, worker_id=worker)

    events = [
        # S1: referred by the front door, allocated to three child protection workers
        referral("S1", "R-1", "2025-01-06", team="Front Door"),
        allocated("S1", "2025-01-07", "W1", "Child Protection"),
        allocated("S1", "2025-03-03", "W2", "Child Protection"),
        allocated("S1", "2025-05-01", "W3", "Child Protection"),
        # and a move to the looked-after team after the as-at date changes nothing
        allocated("S1", "2025-07-01", "W4", "Looked After"),
        # S2: never allocated: the team of their most recent open episode, the period of care
        referral("S2", "R-2", "2024-11-04", team="Front Door"),
        *period_of_care("S2", "POC-2", "2025-02-03", team="Looked After"),
    ]
    result = run(events, date(2025, 6, 30))
    assert nd(result.figure("SW-CHANGES", "as_at", "Child Protection")) == (1, 1)
    assert nd(result.figure("SW-CHANGES", "as_at", "Looked After")) == (0, 1)
    assert nd(result.figure("SW-CHANGES", "as_at", "Front Door")) == (0, 0)


# --- 10.2 cohort first, data second -------------------------------------------------------------


def test_an_icpc_with_no_strategy_discussion_is_counted_late_and_listed() -> None:
    events = [
        ev("section_47_started", "K5", "S47-5", "2025-09-03", {"referral_id": "R-5"},
           team="Child Protection"),
        ev("initial_cp_conference_held", "K5", "ICPC-5", "2025-09-10",
           {"section_47_id": "S47-5", "child_protection_plan": False}, team="Child Protection"),
    ]  # fmt: skip
    result = run(events, date(2025, 9, 30))
    # no strategy discussion: in ICPC-15WD's cohort, not met; from the start Wed 3 Sep: 5 wd
    assert nd(result.figure("ICPC-15WD", "month", "Child Protection")) == (0, 1)
    assert nd(result.figure("ICPC-15WD-DFE", "month", "Child Protection")) == (1, 1)
    listed = [
        (i.episode_id, i.team)
        for i in result.issues
        if i.check is Check.ICPC_WITHOUT_STRATEGY_DISCUSSION
    ]
    assert listed == [("ICPC-5", "Child Protection")]


# --- 10.3 CORE-10WD ----------------------------------------------------------------------------


def test_core_10wd_counts_a_plan_once_its_due_date_is_reached() -> None:
    def core_group(child: str, held: str, plan: str, team: str) -> EventEnvelope:
        payload = {"child_protection_plan_id": plan}
        return ev("core_group_held", child, "CG-" + child, held, payload, team=team)

    events = [
        # from Thu 15 May: May 16 (1), 19-23 (6), [26 May], 27-30 (10) -> due Fri 30 May
        # P1: due today, no core group yet -> not counted yet
        *cp_plan("K1", "P1", "2025-05-15", team="CP North"),
        # P2: due today, held today -> met, for the team that held it
        *cp_plan("K2", "P2", "2025-05-15", team="CP North"),
        core_group("K2", "2025-05-30", "P2", "CP South"),
        # from Wed 14 May -> due Thu 29 May
        # P3: not held by the end of its due date -> not met, the plan's team
        *cp_plan("K3", "P3", "2025-05-14", team="CP North"),
        # P4: ended Tue 20 May, before its due date, with no core group -> not counted
        *cp_plan("K4", "P4", "2025-05-14", "2025-05-20", team="CP North"),
        # P5: ended before its due date, its core group held in time -> met
        *cp_plan("K5", "P5", "2025-05-14", "2025-05-20", team="CP North"),
        core_group("K5", "2025-05-16", "P5", "CP North"),
        # P6: held on Fri 30 May, a day late -> not met, the core group's team
        *cp_plan("K6", "P6", "2025-05-14", team="CP North"),
        core_group("K6", "2025-05-30", "P6", "CP South"),
    ]
    result = run(events, date(2025, 5, 30))
    assert nd(result.figure("CORE-10WD", "month")) == (2, 4)
    assert nd(result.figure("CORE-10WD", "month", "CP North")) == (1, 2)
    assert nd(result.figure("CORE-10WD", "month", "CP South")) == (1, 2)
    late = sorted(
        b.episode_id for b in result.breaches if b.kpi == "CORE-10WD" and b.period == "month"
    )
    assert late == ["P3", "P6"]
    # P1 stays an open clock, due today
    assert _clocks(result, "CORE-10WD")["P1"] == ("CP North", "due_soon")
    # a day later P1 is counted, not met
    assert nd(run(events, date(2025, 6, 2)).figure("CORE-10WD", "quarter")) == (2, 5)


# --- 10.4 visits -------------------------------------------------------------------------------


def test_a_visit_in_which_the_child_was_seen_counts_for_cp_and_cla_visits_alike() -> None:
    def on_plan_and_looked_after(child: str) -> list[EventEnvelope]:
        return [
            *cp_plan(child, "CPP-" + child, "2025-04-01"),
            *period_of_care(child, "POC-" + child, "2025-04-01"),
            *placement(child, "PL-" + child, "2025-04-01", "POC-" + child),
        ]

    events = [
        # V1: on a plan and looked after, seen once on Wed 28 May on a looked-after visit
        *on_plan_and_looked_after("V1"),
        visit("V1", "VIS-1", "2025-05-28", "looked_after"),
        # V2: the same, but the child was not seen -> counts for neither
        *on_plan_and_looked_after("V2"),
        visit("V2", "VIS-2", "2025-05-28", "child_protection", seen=False),
        # V3: looked after only, seen on Tue 20 May on a visit recorded as child protection
        *period_of_care("V3", "POC-V3", "2025-04-01"),
        *placement("V3", "PL-V3", "2025-04-01", "POC-V3"),
        visit("V3", "VIS-3", "2025-05-20", "child_protection"),
    ]
    result = run(events, date(2025, 5, 30))
    # CP-VISITS: V1 seen 2 working days ago -> met; V2 never seen -> not
    assert nd(result.figure("CP-VISITS", "as_at", "North")) == (1, 2)
    # CLA-VISITS: V1 next due 9 Jul, V3 1 Jul -> met; V2's first visit was due 8 Apr -> not
    assert nd(result.figure("CLA-VISITS", "as_at", "North")) == (2, 3)


# --- 10.5 cohorts of children --------------------------------------------------------------------


def test_return_12m_counts_each_child_once_from_their_first_return_home() -> None:
    events = [
        # H1 went home on 1 Jul 2024 (Care A) and came back on 1 Aug; went home again on 1 Oct
        # (Care B) and stayed: counted once, from the first return -> met, Care A's
        *period_of_care("H1", "POC-1a", "2024-01-10", "2024-07-01", ended_team="Care A"),
        *period_of_care("H1", "POC-1b", "2024-08-01", "2024-10-01", ended_team="Care B"),
        # H2 went home on 15 Sep 2024 and stayed -> not met, Care B's
        *period_of_care("H2", "POC-2", "2024-03-01", "2024-09-15", ended_team="Care B"),
    ]
    # June 2025: those who went home from 1 Jun 2024 to 31 May 2025
    result = run(events, date(2025, 6, 30))
    assert nd(result.figure("RETURN-12M", "month")) == (1, 2)
    assert nd(result.figure("RETURN-12M", "month", "Care A")) == (1, 1)
    assert nd(result.figure("RETURN-12M", "month", "Care B")) == (0, 1)


def test_cpp_repeat_counts_each_child_starting_a_plan_once() -> None:
    events = [
        # R1: a plan in 2023, another from 2 Jun 2025 -> met; the earlier one ended more than
        # 2 years before (1 Jun 2023, the window opening 2 Jun 2023) -> not for the variant
        *cp_plan("R1", "CPP-1a", "2023-01-01", "2023-06-01", team="CP East"),
        *cp_plan("R1", "CPP-1b", "2025-06-02", team="CP East"),
        # R2: two plans started in June: the first had none before it, the second had the
        # first -> the child is met, counted once for the team of their first plan
        *cp_plan("R2", "CPP-2a", "2025-06-03", "2025-06-05", team="CP North"),
        *cp_plan("R2", "CPP-2b", "2025-06-12", team="CP South"),
        # R3: a first plan -> not met
        *cp_plan("R3", "CPP-3", "2025-06-15", team="CP East"),
    ]
    result = run(events, date(2025, 6, 30))
    assert nd(result.figure("CPP-REPEAT", "month")) == (2, 3)
    assert nd(result.figure("CPP-REPEAT", "month", "CP North")) == (1, 1)
    assert nd(result.figure("CPP-REPEAT", "month", "CP South")) == (0, 0)
    assert nd(result.figure("CPP-REPEAT", "month", "CP East")) == (1, 2)
    assert nd(result.figure("CPP-REPEAT-2Y", "month")) == (1, 3)


# --- 10.6 windows compare dates ----------------------------------------------------------------


def test_repeat_asmt_counts_an_assessment_authorised_on_the_new_ones_start_day() -> None:
    events = [
        referral("K1", "R-1", "2025-03-03"),
        *assessment("K1", "A-1", "R-1", "2025-03-04", "2025-05-15"),
        # started the day A-1 was authorised -> a repeat
        *assessment("K1", "A-2", "R-1", "2025-05-15", None),
    ]
    result = run(events, date(2025, 5, 31))
    assert nd(result.figure("REPEAT-ASMT", "month", "North")) == (1, 1)


# --- 10.8 open clocks for every timeliness KPI, hour clocks included ---------------------------


def _hour_clock_history() -> list[EventEnvelope]:
    def decided(child: str, episode: str, when: str, next_steps: str) -> EventEnvelope:
        payload = {"no_further_action": False, "next_steps": next_steps}
        return ev("referral_decision", child, episode, when, payload)

    return [
        # contacts, 72 hours: due soon within 18 hours of the due time, judged at the end of
        # Wed 7 May (23:59:59 BST)
        *contact("K1", "CON-1", "2025-05-05T09:00:00+01:00", None),  # due 8 May 09:00: 9 h
        *contact("K2", "CON-2", "2025-05-07T09:00:00+01:00", None),  # due 10 May: 57 h
        *contact("K3", "CON-3", "2025-05-04T09:00:00+01:00", None),  # due 7 May 09:00: past
        # decided after the as-at date: still open on 7 May
        *contact("K4", "CON-4", "2025-05-05T09:00:00+01:00", "2025-05-08T10:00:00+01:00"),
        *contact("K5", "CON-5", "2025-05-05T09:00:00+01:00", "2025-05-07T10:00:00+01:00"),
        # referrals, 24 hours: due soon within 6 hours
        referral("K6", "R-6", "2025-05-07T10:00:00+01:00"),  # due 8 May 10:00: 10 h
        referral("K7", "R-7", "2025-05-06T22:00:00+01:00"),  # due 7 May 22:00: past
        referral("K8", "R-8", "2025-05-07T02:00:00+01:00"),  # due 8 May 02:00: 2 h
        # strategy discussions, 48 hours from the referral, once the decision is to hold one:
        # due soon within 12 hours
        referral("K9", "R-9", "2025-05-06T11:00:00+01:00"),  # due 8 May 11:00: 11 h
        decided("K9", "R-9", "2025-05-06T14:00:00+01:00", "strategy_discussion"),
        # one already held, and one decided otherwise: no clock
        referral("K10", "R-10", "2025-05-06T09:00:00+01:00"),
        decided("K10", "R-10", "2025-05-06T11:00:00+01:00", "strategy_discussion"),
        ev("strategy_discussion_held", "K10", "SD-10", "2025-05-07T10:00:00+01:00",
           {"referral_id": "R-10", "agencies_attended": ["police"], "initiated_section_47": False}),
        referral("K11", "R-11", "2025-05-06T08:00:00+01:00"),
        decided("K11", "R-11", "2025-05-06T09:00:00+01:00", "assessment"),
    ]  # fmt: skip


def test_hour_clocks_are_open_clocks_due_soon_within_a_quarter_of_their_limit() -> None:
    result = run(_hour_clock_history(), date(2025, 5, 7))
    assert _clocks(result, "CONTACT-72H") == {
        "CON-1": ("North", "due_soon"),
        "CON-2": ("North", "on_track"),
        "CON-3": ("North", "overdue"),
        "CON-4": ("North", "due_soon"),
    }
    assert _clocks(result, "REF-DECISION") == {
        "R-6": ("North", "on_track"),
        "R-7": ("North", "overdue"),
        "R-8": ("North", "due_soon"),
    }
    assert _clocks(result, "STRAT-48H") == {"R-9": ("North", "due_soon")}
    (clock,) = [c.clock for c in result.open_clocks if c.clock.episode_id == "R-9"]
    assert (clock.due, clock.due_at.isoformat() if clock.due_at else None) == (
        date(2025, 5, 8),
        "2025-05-08T10:00:00+00:00",
    )


def test_the_hour_clocks_due_soon_share_is_a_council_setting() -> None:
    result = run(_hour_clock_history(), date(2025, 5, 7), hour_clock_due_soon_share=0.1)
    # a tenth of 72 hours is 7.2: CON-1's 9 hours left are on track
    assert _clocks(result, "CONTACT-72H")["CON-1"] == ("North", "on_track")


# --- the child's month of birth ----------------------------------------------------------------


def test_the_latest_month_of_birth_known_at_the_as_at_date_sets_the_health_standard() -> None:
    events = [
        # in care from 15 Jan 2024, no month of birth on the period of care (the contract lets
        # it be left out); recorded on the child's details as Mar 2021, corrected on 1 May 2025
        # to Mar 2019
        *period_of_care("H", "POC-H", "2024-01-15", birth_month=None),
        child_details("H", "2024-02-01", "2021-03"),
        child_details("H", "2025-05-01", "2019-03"),
        dated_check("health_assessment_held", "H", "HA-1", "2024-10-01", "POC-H"),
    ]
    # 30 Apr 2025: aged 4, so a health assessment within 6 months (from 30 Oct 2024) -> not met
    assert nd(run(events, date(2025, 4, 30)).figure("CLA-HEALTH", "as_at")) == (0, 1)
    # 31 May 2025: the correction is known, aged 6, within 12 months (from 31 May 2024) -> met
    assert nd(run(events, date(2025, 5, 31)).figure("CLA-HEALTH", "as_at")) == (1, 1)
    # known throughout, so never flagged as missing
    issues = run(events, date(2025, 4, 30)).issues
    assert not [i for i in issues if i.check is Check.BIRTH_MONTH_NOT_RECORDED]


def test_a_referral_closed_after_the_as_at_date_is_open_for_the_team_that_held_it() -> None:
    events = [
        referral("K1", "R-1", "2025-01-06", team="Front Door"),
        case_closed("K1", "R-1", "2025-07-01"),
    ]
    result = run(events, date(2025, 6, 30))
    assert nd(result.figure("SW-CHANGES", "as_at", "Front Door")) == (0, 1)
