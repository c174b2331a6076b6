"""Reporting across the catalogue: period labels, RECORDING-LAG, amendments and voids, exception
reasons on breaches (section 5), open clock states (section 4), data-quality checks (section 9),
service roll-ups, RAG (section 6) and direction of travel (section 7).
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from casetime.events import EventEnvelope
from kpi.domain.council import KpiTarget, Rag, RagRule, direction, rag
from kpi.domain.data_quality import Check
from kpi.domain.kpis import CATALOGUE
from kpi.domain.kpis.base import Polarity
from tests.support.history import (
    assessment,
    child_details,
    contact,
    cp_plan,
    ev,
    icpc,
    nd,
    period_of_care,
    placement,
    plo,
    proceedings,
    referral,
    run,
    section_47,
    section_47_completed,
    strategy,
    void,
)

CATALOGUE_IDS = [
    "CONTACT-72H",
    "REF-DECISION",
    "STRAT-48H",
    "STRAT-PARTNERS",
    "ASMT-45WD",
    "ASMT-45WD-DFE",
    "ASMT-MEDIAN",
    "ICPC-15WD",
    "ICPC-15WD-DFE",
    "CORE-10WD",
    "RCPC-TIMELY",
    "CP-VISITS",
    "CP-15M",
    "CPP-2YRS",
    "CPP-REPEAT",
    "CPP-REPEAT-2Y",
    "REREFERRAL-12M",
    "REPEAT-ASMT",
    "CLA-VISITS",
    "CLA-REVIEWS",
    "CLA-HEALTH",
    "CLA-DENTAL",
    "PLACEMENT-3PLUS",
    "PLACEMENT-LONGTERM",
    "RETURN-12M",
    "SW-CHANGES",
    "PLO-16W",
    "PROC-26W",
    "PROC-26W-APPLICATION",
    "PROC-WEEKS",
    "PROC-WEEKS-MEDIAN",
    "RATE-CIN",
    "RATE-S47",
    "RATE-CP",
    "RATE-CLA",
    "RECORDING-LAG",
]
POINT_IN_TIME = {
    "CP-VISITS",
    "CP-15M",
    "CLA-VISITS",
    "CLA-REVIEWS",
    "CLA-HEALTH",
    "CLA-DENTAL",
    "PLACEMENT-3PLUS",
    "PLACEMENT-LONGTERM",
    "SW-CHANGES",
    "RATE-CIN",
    "RATE-CP",
    "RATE-CLA",
}
PERIODS = {"month", "quarter", "financial_year_to_date", "rolling_12_months"}


def test_the_catalogue_has_36_kpis_in_the_catalogue_order() -> None:
    assert [kpi.id for kpi in CATALOGUE] == CATALOGUE_IDS


def test_every_catalogue_kpi_has_a_worked_example_with_exact_figures() -> None:
    sources = "".join(
        path.read_text() for path in Path(__file__).parent.glob("test_kpi_catalogue_*.py")
    )
    exercised = set(re.findall(r'figure\(\s*"([A-Z0-9-]+)"', sources))
    assert exercised >= set(CATALOGUE_IDS)


def test_point_in_time_kpis_report_as_at_and_the_others_over_the_four_periods() -> None:
    result = run([referral("K1", "R-1", "2025-04-01T09:00:00+01:00")], date(2025, 4, 30))
    labels: dict[str, set[str]] = {}
    for f in result.figures:
        labels.setdefault(f.kpi, set()).add(f.period)
    assert set(labels) == set(CATALOGUE_IDS)
    for kpi_id, periods in labels.items():
        assert periods == ({"as_at"} if kpi_id in POINT_IN_TIME else PERIODS), kpi_id


def test_recording_lag_counts_events_by_the_day_recorded_within_1_working_day() -> None:
    def received(when: str, recorded_at: str, event_id: str | None = None) -> EventEnvelope:
        return ev(
            "contact_received", "K1", "CON-1", when, {}, recorded_at=recorded_at, event_id=event_id
        )

    withdrawn = received("2025-04-01", "2025-04-01T12:00:00+01:00", event_id="EV-W")
    events = [
        # happened Thu 17 Apr, recorded Tue 22 Apr: Good Friday, weekend, Easter Monday
        # skipped -> 1 working day -> in time
        received("2025-04-17", "2025-04-22T10:00:00+01:00"),
        # happened Wed 16 Apr, recorded Tue 22 Apr: 17 Apr and 22 Apr -> 2 -> late
        received("2025-04-16", "2025-04-22T10:00:00+01:00"),
        # same day -> 0 -> in time
        received("2025-04-22", "2025-04-22T10:00:00+01:00"),
        # withdrawn by a void: neither it nor the void is counted
        withdrawn,
        void(withdrawn, "2025-04-02"),
        # recorded after the as-at date -> not yet received
        received("2025-04-30", "2025-05-02T10:00:00+01:00"),
    ]
    result = run(events, date(2025, 4, 30))
    assert nd(result.figure("RECORDING-LAG", "month")) == (2, 3)
    assert nd(result.figure("RECORDING-LAG", "month", "North")) == (2, 3)


def test_an_amended_event_replaces_the_earlier_revision_and_changes_the_figure() -> None:
    # referral Mon 3 Mar 2025: the 45th working day after it is Thu 8 May
    history = [
        referral("K1", "R-1", "2025-03-03"),
        *assessment("K1", "A-1", "R-1", "2025-03-05", "2025-05-09", completed_event_id="EV-AC"),
    ]
    # authorised Fri 9 May -> 46 working days -> breach
    assert nd(run(history, date(2025, 5, 31)).figure("ASMT-45WD", "month")) == (0, 1)
    # revision 2 corrects the authorisation to Thu 8 May -> 45 -> in time; arriving first
    # makes no difference: the higher revision wins
    amended = ev(
        "assessment_completed",
        "K1",
        "A-1",
        "2025-05-08",
        {"referral_id": "R-1"},
        event_id="EV-AC",
        revision=2,
    )
    result = run([amended, *history], date(2025, 5, 31))
    assert nd(result.figure("ASMT-45WD", "month")) == (1, 1)
    assert not [b for b in result.breaches if b.kpi == "ASMT-45WD"]


def test_an_amendment_moves_an_outcome_to_the_period_it_belongs_to() -> None:
    history = [
        referral("K1", "R-1", "2025-03-03"),
        *assessment("K1", "A-1", "R-1", "2025-03-05", "2025-05-09", completed_event_id="EV-AC"),
        ev(
            "assessment_completed",
            "K1",
            "A-1",
            "2025-04-30",
            {"referral_id": "R-1"},
            event_id="EV-AC",
            revision=2,
        ),
    ]
    result = run(history, date(2025, 5, 31))
    # authorised 30 Apr now: out of May, in the quarter Apr-Jun
    assert nd(result.figure("ASMT-45WD", "month")) == (0, 0)
    assert nd(result.figure("ASMT-45WD", "quarter")) == (1, 1)


def test_a_voided_event_drops_out_of_the_figure_and_a_voided_void_restores_it() -> None:
    first = referral("A", "R-1", "2024-09-01", event_id="EV-R1")
    second = referral("A", "R-2", "2025-05-10")
    # R-2 follows R-1 within 12 months -> a re-referral -> 1/1
    assert nd(run([first, second], date(2025, 5, 31)).figure("REREFERRAL-12M", "month")) == (1, 1)
    # R-1 withdrawn -> R-2 is a first referral -> 0/1
    withdraw = void(first)
    voided = run([first, second, withdraw], date(2025, 5, 31))
    assert nd(voided.figure("REREFERRAL-12M", "month")) == (0, 1)
    # the void withdrawn in turn -> R-1 is back -> 1/1
    restored = run([first, second, withdraw, void(withdraw)], date(2025, 5, 31))
    assert nd(restored.figure("REREFERRAL-12M", "month")) == (1, 1)


def test_events_arriving_out_of_order_give_the_same_figures() -> None:
    events = [
        referral("K1", "R-1", "2025-03-03"),
        *assessment("K1", "A-1", "R-1", "2025-03-05", "2025-05-08"),
        *proceedings("K2", "APP-1", "2025-01-06", "2025-07-07"),
    ]
    forwards = run(events, date(2025, 7, 31))
    backwards = run(list(reversed(events)), date(2025, 7, 31))
    assert forwards.figures == backwards.figures
    assert forwards.breaches == backwards.breaches


def test_breaches_carry_their_exception_reason_or_reason_not_recorded() -> None:
    events = [
        # K1: 7 Jul 2025 is issue + 182 days -> breach; the court extended -> reason recorded
        *proceedings("K1", "APP-1", "2025-01-06", "2025-07-07", extension_weeks=8),
        ev(
            "exception_reason_recorded",
            "K1",
            "APP-1",
            "2025-07-08",
            {"kpi": "PROC-26W", "reason": "extension_granted"},
        ),
        # K2: breach; a reason recorded only for another KPI -> not recorded for PROC-26W
        *proceedings("K2", "APP-2", "2024-07-31", "2025-07-31"),
        ev(
            "exception_reason_recorded",
            "K2",
            "APP-2",
            "2025-07-31",
            {"kpi": "PLO-16W", "reason": "court_listing"},
        ),
        # K3: assessment authorised after 46 working days; family unavailable
        referral("K3", "R-3", "2025-03-03"),
        *assessment("K3", "A-3", "R-3", "2025-03-03", "2025-05-09"),
        ev(
            "exception_reason_recorded",
            "K3",
            "A-3",
            "2025-05-09",
            {"kpi": "ASMT-45WD", "reason": "child_or_family_unavailable"},
        ),
    ]
    result = run(events, date(2025, 7, 31))
    reasons = {
        (b.kpi, b.child_id): b.reason for b in result.breaches if b.period == "rolling_12_months"
    }
    assert reasons[("PROC-26W", "K1")] == "extension_granted"
    assert reasons[("PROC-26W", "K2")] == "reason_not_recorded"
    assert reasons[("ASMT-45WD", "K3")] == "child_or_family_unavailable"
    # the DfE-basis breach of the same assessment shares the reason (catalogue section 10.7)
    assert reasons[("ASMT-45WD-DFE", "K3")] == "child_or_family_unavailable"
    # and so does the per-application figure of the same proceedings
    assert reasons[("PROC-26W-APPLICATION", "K1")] == "extension_granted"
    assert reasons[("PROC-26W-APPLICATION", "K2")] == "reason_not_recorded"
    # a breach is listed once per period it falls in: July month, quarter, year, rolling 12
    assert {b.period for b in result.breaches if b.child_id == "K1" and b.kpi == "PROC-26W"} == {
        "month",
        "quarter",
        "financial_year_to_date",
        "rolling_12_months",
    }


@pytest.mark.parametrize(
    ("as_at", "state", "working_days_left"),
    [
        # due Thu 8 May 2025 (45 working days after Mon 3 Mar)
        # 29 Apr: Apr 30, May 1, 2, [5 May], 6, 7, 8 -> 6 -> on track
        (date(2025, 4, 29), "on_track", 6),
        # 30 Apr: May 1, 2, 6, 7, 8 -> 5 -> due soon (within 5 working days)
        (date(2025, 4, 30), "due_soon", 5),
        # the due day itself -> 0 -> due soon
        (date(2025, 5, 8), "due_soon", 0),
        # the day after -> overdue
        (date(2025, 5, 9), "overdue", -1),
    ],
)
def test_open_clock_states_on_track_due_soon_overdue(
    as_at: date, state: str, working_days_left: int
) -> None:
    events = [
        referral("K1", "R-1", "2025-03-03T09:00:00+00:00"),
        *assessment("K1", "A-1", "R-1", "2025-03-05", None),
    ]
    (clock,) = [c for c in run(events, as_at).open_clocks if c.clock.kpi == "ASMT-45WD"]
    assert clock.clock.due == date(2025, 5, 8)
    assert (clock.state, clock.working_days_left) == (state, working_days_left)
    assert clock.days_left == (date(2025, 5, 8) - as_at).days


def test_due_soon_window_is_a_council_setting() -> None:
    events = [
        referral("K1", "R-1", "2025-03-03T09:00:00+00:00"),
        *assessment("K1", "A-1", "R-1", "2025-03-05", None),
    ]
    # 30 Apr is 5 working days before the due date: due soon by default, on track at 3
    (clock,) = [
        c
        for c in run(events, date(2025, 4, 30), due_soon_working_days=3).open_clocks
        if c.clock.kpi == "ASMT-45WD"
    ]
    assert clock.state == "on_track"


def test_an_authorised_assessment_has_no_open_clock() -> None:
    events = [
        referral("K1", "R-1", "2025-03-03T09:00:00+00:00"),
        *assessment("K1", "A-1", "R-1", "2025-03-05", "2025-04-01"),
    ]
    clocks = run(events, date(2025, 4, 30)).open_clocks
    assert not [c for c in clocks if c.clock.kpi.startswith("ASMT")]
    # the referral itself was never decided: its 24-hour clock is open, and overdue
    assert [(c.clock.kpi, c.state) for c in clocks] == [("REF-DECISION", "overdue")]


# --- data quality (catalogue section 9) --------------------------------------------------------

DQ_AS_AT = date(2025, 5, 30)


def _clean() -> list[EventEnvelope]:
    """A tidy child protection journey: nothing for any check to flag."""
    return [
        *contact("K0", "CON-0", "2025-04-01T09:00:00+01:00", "2025-04-01T15:00:00+01:00"),
        referral("K0", "R-0", "2025-04-01T16:00:00+01:00"),
        strategy("K0", "SD-0", "2025-04-02T10:00:00+01:00", "R-0"),
        section_47("K0", "S47-0", "2025-04-02", "R-0", "SD-0"),
        icpc("K0", "ICPC-0", "2025-04-16", "S47-0"),  # a Wednesday
        *cp_plan("K0", "CPP-0", "2025-04-16", icpc_id="ICPC-0"),
        *assessment("K0", "A-0", "R-0", "2025-04-02", "2025-05-01"),
    ]


CRAFTED: dict[Check, tuple[list[EventEnvelope], set[str]]] = {
    # an ICPC held on Saturday 10 May 2025
    Check.ICPC_ON_WEEKEND: ([icpc("K1", "ICPC-1", "2025-05-10", "S47-1")], {"ICPC-1"}),
    # the ICPC on Mon 12 May, its plan from Tue 13 May
    Check.CP_PLAN_START_NOT_ICPC_DAY: (
        [
            icpc("K1", "ICPC-1", "2025-05-12", "S47-1"),
            *cp_plan("K1", "CPP-1", "2025-05-13", icpc_id="ICPC-1"),
        ],
        {"CPP-1"},
    ),
    # an assessment authorised before it started
    Check.END_BEFORE_START: (
        [
            referral("K1", "R-1", "2025-04-01T09:00:00+01:00"),
            *assessment("K1", "A-1", "R-1", "2025-05-10", "2025-05-01"),
        ],
        {"A-1"},
    ),
    # a second plan from 1 Mar while the first (from 1 Jan) is still open
    Check.OVERLAPPING_CP_PLANS: (
        [*cp_plan("K1", "CPP-1", "2025-01-01"), *cp_plan("K1", "CPP-2", "2025-03-01")],
        {"CPP-2"},
    ),
    Check.ASSESSMENT_WITHOUT_REFERRAL: (
        assessment("K1", "A-1", "R-NEVER", "2025-04-01", None),
        {"A-1"},
    ),
    # section 47 from Fri 4 Apr: Apr 7-11 (5), 14-17 (9), 22-25 (13), 28-30 (16), ... > 15 ->
    # flagged; from Fri 9 May: May 12-16 (5), 19-23 (10), [26 May], 27-30 (14) -> not yet;
    # from 4 Apr with "ICPC not required" -> not flagged
    Check.SECTION_47_OPEN_WITHOUT_ICPC: (
        [
            section_47("K1", "S47-1", "2025-04-04", "R-1"),
            section_47("K2", "S47-2", "2025-05-09", "R-2"),
            section_47("K3", "S47-3", "2025-04-04", "R-3"),
            section_47_completed("K3", "S47-3", "2025-04-10", "icpc_not_required"),
        ],
        {"S47-1"},
    ),
    # a plan ended that never started; a referral decided that was never received
    Check.EPISODE_NEVER_OPENED: (
        [
            ev("cp_plan_ended", "K1", "CPP-1", "2025-05-01", {}),
            ev(
                "referral_decision",
                "K2",
                "R-2",
                "2025-05-01T10:00:00+01:00",
                {"no_further_action": True},
            ),
        ],
        {"CPP-1", "R-2"},
    ),
    Check.DATE_ONLY_HOUR_CLOCK: (contact("K1", "CON-1", "2025-05-01", None), {"CON-1"}),
    # an ICPC whose section 47 names no strategy discussion; one whose section 47 never started
    Check.ICPC_WITHOUT_STRATEGY_DISCUSSION: (
        [
            section_47("K1", "S47-1", "2025-05-01", "R-1"),
            icpc("K1", "ICPC-1", "2025-05-14", "S47-1"),
        ],
        {"ICPC-1"},
    ),
    Check.ICPC_WITHOUT_SECTION_47: ([icpc("K1", "ICPC-1", "2025-05-14", "S47-NEVER")], {"ICPC-1"}),
    Check.STRATEGY_DISCUSSION_WITHOUT_REFERRAL: (
        [strategy("K1", "SD-1", "2025-05-02T10:00:00+01:00", "R-NEVER")],
        {"SD-1"},
    ),
    # looked after with no month of birth anywhere; K2's comes on its details, K3's on a referral
    Check.BIRTH_MONTH_NOT_RECORDED: (
        [
            *period_of_care("K1", "POC-1", "2025-03-01", birth_month=None),
            *period_of_care("K2", "POC-2", "2025-03-01", birth_month=None),
            child_details("K2", "2025-03-02", "2019-04"),
            referral("K3", "R-3", "2025-02-01T10:00:00+00:00", birth_month="2012-01"),
            *period_of_care("K3", "POC-3", "2025-03-01", birth_month=None),
        ],
        {"POC-1"},
    ),
}


def test_a_clean_history_raises_no_data_quality_issue() -> None:
    assert run(_clean(), DQ_AS_AT).issues == ()


@pytest.mark.parametrize("check", list(CRAFTED))
def test_each_data_quality_check_fires_on_its_crafted_case(check: Check) -> None:
    events, expected = CRAFTED[check]
    issues = run([*_clean(), *events], DQ_AS_AT).issues
    assert {i.episode_id for i in issues if i.check is check} == expected


def test_end_before_start_is_checked_for_every_episode_with_a_start_and_an_end() -> None:
    # Catalogue section 9: "an end before its start". PRODUCTION GAP (data_quality.py): only
    # contacts, referrals, section 47s, assessments and CP plans are checked, so a period of
    # care, placement, PLO or care proceedings that ends before it starts goes unflagged (and
    # proceedings concluded before issue feed PROC-WEEKS a negative duration).
    events = [
        *period_of_care("K1", "POC-1", "2025-05-10", "2025-05-01"),
        *placement("K1", "PL-1", "2025-05-10", "POC-1", ended="2025-05-01"),
        *plo("K2", "PLO-2", "2025-05-10", "2025-05-01"),
        *proceedings("K3", "APP-3", "2025-05-10", "2025-05-01"),
    ]
    issues = run(events, DQ_AS_AT).issues
    flagged = {i.episode_id for i in issues if i.check is Check.END_BEFORE_START}
    assert flagged == {"POC-1", "PL-1", "PLO-2", "APP-3"}


def test_an_assessment_completed_without_its_start_is_an_episode_never_opened() -> None:
    # Catalogue section 9: "events for an episode that was never opened"; flag, don't drop.
    # PRODUCTION GAP (episodes.OPENING_EVENT has no "assessment"): an assessment_completed
    # with no assessment_started is not flagged, and silently drops out of ASMT-45WD-DFE and
    # ASMT-MEDIAN (no start date) while still counting in ASMT-45WD.
    events = [
        referral("K1", "R-1", "2025-04-01T09:00:00+01:00"),
        *assessment("K1", "A-1", "R-1", None, "2025-05-01"),
    ]
    issues = run(events, DQ_AS_AT).issues
    assert {i.episode_id for i in issues if i.check is Check.EPISODE_NEVER_OPENED} == {"A-1"}


# --- services ---------------------------------------------------------------------------------


def test_service_figures_roll_up_their_teams() -> None:
    events = [
        *contact("K1", "CON-1", "2025-04-01T09:00:00+01:00", "2025-04-01T10:00:00+01:00", "North"),
        *contact("K2", "CON-2", "2025-04-01T09:00:00+01:00", "2025-04-07T10:00:00+01:00", "South"),
        *contact("K3", "CON-3", "2025-04-01T09:00:00+01:00", "2025-04-01T10:00:00+01:00", "East"),
        *contact("K4", "CON-4", "2025-04-01T09:00:00+01:00", "2025-04-01T10:00:00+01:00", "West"),
    ]
    services = {"Front door": ["North", "South"], "Family help": ["East"]}
    result = run(events, date(2025, 4, 30), services=services)
    by_service = {
        f.service: nd(f.figure)
        for f in result.service_figures
        if (f.kpi, f.period) == ("CONTACT-72H", "month")
    }
    # North met + South breach -> 1/2; East met -> 1/1; West is in no service
    assert by_service == {"Front door": (1, 2), "Family help": (1, 1)}
    assert nd(result.figure("CONTACT-72H", "month")) == (3, 4)
    assert nd(result.figure("CONTACT-72H", "month", "West")) == (1, 1)


# --- RAG and direction (catalogue sections 6 and 7) -------------------------------------------

HIGHER = Polarity.HIGHER_IS_BETTER
LOWER = Polarity.LOWER_IS_BETTER


@pytest.mark.parametrize(
    ("value", "expected"),
    [(95.0, Rag.GREEN), (99.0, Rag.GREEN), (85.6, Rag.AMBER), (85.5, Rag.RED), (80.0, Rag.RED)],
)
def test_rag_relative_rule_target_95_percent(value: float, expected: Rag) -> None:
    # 10% of the target: 95 - 9.5 = 85.5; above 85.5 amber, 85.5 or below red
    assert rag(value, 100, KpiTarget(target=95), HIGHER) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(20.0, Rag.GREEN), (15.0, Rag.GREEN), (21.9, Rag.AMBER), (22.0, Rag.RED), (30.0, Rag.RED)],
)
def test_rag_relative_rule_lower_is_better_target_20_percent(value: float, expected: Rag) -> None:
    # 20 + 2 = 22: below 22 amber, 22 or above red
    assert rag(value, 100, KpiTarget(target=20), LOWER) is expected


@pytest.mark.parametrize(
    ("value", "polarity", "target", "expected"),
    [
        (0.95, HIGHER, 0.95, Rag.GREEN),
        (0.856, HIGHER, 0.95, Rag.AMBER),
        (171 / 200, HIGHER, 0.95, Rag.RED),  # 0.855
        (0.20, LOWER, 0.20, Rag.GREEN),
        (0.219, LOWER, 0.20, Rag.AMBER),
        # 11/50 = 0.22 is 22%: red. PRODUCTION BUG (council.rag): 0.20 + 0.1 * 0.20 is
        # 0.22000000000000003 in floating point, so 0.22 < it and the result is Amber.
        (11 / 50, LOWER, 0.20, Rag.RED),
    ],
)
def test_rag_relative_rule_on_ratio_values_as_figures_carry_them(
    value: float, polarity: Polarity, target: float, expected: Rag
) -> None:
    # Figure.value for a ratio KPI is 0 to 1, so a target for it is written 0.95, not 95
    assert rag(value, 200, KpiTarget(target=target), polarity) is expected


@pytest.mark.parametrize(
    ("value", "polarity", "target", "floor", "expected"),
    [
        (0.95, HIGHER, 0.95, 0.90, Rag.GREEN),
        (0.92, HIGHER, 0.95, 0.90, Rag.AMBER),
        (0.90, HIGHER, 0.95, 0.90, Rag.AMBER),  # at the floor: still amber
        (0.89, HIGHER, 0.95, 0.90, Rag.RED),
        (0.20, LOWER, 0.20, 0.25, Rag.GREEN),
        (0.25, LOWER, 0.20, 0.25, Rag.AMBER),
        (0.26, LOWER, 0.20, 0.25, Rag.RED),
    ],
)
def test_rag_floor_rule_amber_between_floor_and_target(
    value: float, polarity: Polarity, target: float, floor: float, expected: Rag
) -> None:
    rule = KpiTarget(target=target, rag_rule=RagRule.FLOOR, floor=floor)
    assert rag(value, 100, rule, polarity) is expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.5, Rag.GREEN),
        (0.4, Rag.GREEN),
        (0.6, Rag.GREEN),
        (0.37, Rag.AMBER),  # 0.03 below 0.4: within 10% of 0.4 (0.04)
        (0.3, Rag.RED),
        (0.65, Rag.AMBER),  # 0.05 above 0.6: within 10% of 0.6 (0.06)
        (0.7, Rag.RED),
    ],
)
def test_rag_band_rule_green_inside_amber_within_tolerance_outside(
    value: float, expected: Rag
) -> None:
    rule = KpiTarget(rag_rule=RagRule.BAND, low=0.4, high=0.6)
    assert rag(value, 100, rule, HIGHER) is expected


def test_rag_small_numbers_are_not_rated_and_untargeted_kpis_are_grey() -> None:
    # denominator 4 < 5: shown, not rated; 5 is rated
    assert rag(0.5, 4, KpiTarget(target=0.95), HIGHER) is Rag.NOT_RATED
    assert rag(0.5, 5, KpiTarget(target=0.95), HIGHER) is Rag.RED
    # no target: monitoring only
    assert rag(0.5, 100, KpiTarget(), HIGHER) is Rag.GREY
    # rates are context, never rated
    assert rag(67.0, 20_000, KpiTarget(target=60), Polarity.CONTEXT) is Rag.GREY
    # nothing to rate
    assert rag(None, 0, KpiTarget(target=0.95), HIGHER) is Rag.NO_DATA
    # the council's own small-number threshold
    assert rag(0.5, 4, KpiTarget(target=0.95), HIGHER, small_number_threshold=3) is Rag.RED


def test_rag_of_an_evaluated_figure_is_not_rated_below_5_cases() -> None:
    events = [
        referral("K1", "R-1", "2025-03-03"),
        *assessment("K1", "A-1", "R-1", "2025-03-05", "2025-05-08"),
    ]
    figure = run(events, date(2025, 5, 31)).figure("ASMT-45WD", "month")
    assert rag(figure.value, figure.denominator, KpiTarget(target=0.95), HIGHER) is Rag.NOT_RATED


def test_direction_of_travel_follows_polarity() -> None:
    assert direction(0.9, 0.8, HIGHER) == "improving"
    assert direction(0.9, 0.8, LOWER) == "worsening"
    assert direction(0.8, 0.8, HIGHER) == "no change"
    assert direction(None, 0.8, HIGHER) == "not comparable"
    assert direction(2.0, 1.0, Polarity.CONTEXT) == "not comparable"


def test_every_data_quality_check_has_a_test() -> None:
    # the two checks CRAFTED leaves out need a council file or a failing rule: tested below
    assert set(Check) - set(CRAFTED) == {Check.UNLISTED_TEAM, Check.NOT_EVALUATED}


def test_a_team_the_council_file_does_not_list_is_named_once_in_data_quality() -> None:
    events = [
        *_clean(),
        referral("K7", "R-7", "2025-05-01T10:00:00+01:00", team="Made Up Team"),
        referral("K8", "R-8", "2025-05-02T10:00:00+01:00", team="Made Up Team"),
    ]
    result = run(events, DQ_AS_AT, services={"Front Door": ["North"]})
    unlisted = [i for i in result.issues if i.check is Check.UNLISTED_TEAM]
    assert [(i.team, i.detail) for i in unlisted] == [
        ("unlisted", "team 'Made Up Team' is not in the council file (2 episodes name it)")
    ]
    # the figures still count the events, under the team's own name in the query API
    assert nd(result.figure("REREFERRAL-12M", "month", "Made Up Team")) == (0, 2)
    # and a council file that lists no teams flags none
    assert not [i for i in run(events, DQ_AS_AT).issues if i.check is Check.UNLISTED_TEAM]


def test_a_child_a_rule_cannot_evaluate_is_left_out_and_listed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dataclasses import replace

    from kpi.domain.kpis import CATALOGUE
    from kpi.domain.kpis.front_door import REF_DECISION

    rule = REF_DECISION.rule

    def breaks_on_k9(book: Any, ctx: Any) -> Any:
        for outcome in rule(book, ctx):
            if outcome.child_id == "K9":
                raise OverflowError("date value out of range")
            yield outcome

    catalogue = tuple(replace(k, rule=breaks_on_k9) if k is REF_DECISION else k for k in CATALOGUE)
    monkeypatch.setattr("kpi.domain.evaluation.CATALOGUE", catalogue)
    events = [
        *_clean(),
        referral("K9", "R-9", "2025-05-01T10:00:00+01:00"),
        ev("referral_decision", "K9", "R-9", "2025-05-01T11:00:00+01:00", {}),
        referral("K10", "R-10", "2025-05-01T10:00:00+01:00"),
        ev("referral_decision", "K10", "R-10", "2025-05-01T11:00:00+01:00", {}),
    ]
    result = run(events, DQ_AS_AT)
    # K10 is counted, K9 left out; every other KPI is untouched
    assert nd(result.figure("REF-DECISION", "month")) == (1, 1)
    assert nd(result.figure("CONTACT-72H", "rolling_12_months")) == (1, 1)
    (issue,) = [i for i in result.issues if i.check is Check.NOT_EVALUATED]
    assert (issue.child_id, issue.team) == ("K9", "North")
    assert "REF-DECISION" in issue.detail
    assert "OverflowError" in issue.detail
