"""Small case histories as events, and their evaluation as at a date (KPI catalogue tests).

The builders below send events through the wire path (``parse_event``), like the KPI service
receives them. Each takes the child, the episode and when it happened; the payload fields a KPI
reads are keyword arguments with realistic defaults.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from casetime.events import EventEnvelope, parse_event
from kpi.domain.calendar import england_calendar
from kpi.domain.casebook import RuleContext
from kpi.domain.council import CouncilConfig
from kpi.domain.evaluation import Evaluation, evaluate
from kpi.domain.kpis.base import Figure
from kpi.domain.recompute import casebook_from_events
from tests.support.events import event_dict

When = date | datetime | str


def ev(
    event_type: str,
    child: str,
    episode: str,
    when: When,
    payload: dict[str, Any] | None = None,
    *,
    team: str = "North",
    event_id: str | None = None,
    revision: int = 1,
    recorded_at: str | None = None,
    worker_id: str | None = None,
) -> EventEnvelope:
    raw = event_dict(
        event_type,
        child_id=child,
        episode_id=episode,
        occurred_at=when,
        team=team,
        payload=payload,
        event_id=event_id,
        revision=revision,
    )
    if recorded_at is not None:
        raw["recorded_at"] = recorded_at
    if worker_id is not None:
        raw["worker_id"] = worker_id
    return parse_event(json.dumps(raw))


def run(
    events: Iterable[EventEnvelope],
    as_at: date,
    services: dict[str, list[str]] | None = None,
    **settings: Any,
) -> Evaluation:
    """casebook_from_events, then evaluate as at the date, for a council called Test."""
    config = CouncilConfig(council="Test", services=services or {}, **settings)
    ctx = RuleContext(
        as_at, england_calendar(config.working_day_convention), config.rule_settings()
    )
    return evaluate(casebook_from_events(events), ctx, config)


def nd(figure: Figure) -> tuple[int, int]:
    """A figure's numerator and denominator."""
    return (figure.numerator, figure.denominator)


# --- front door --------------------------------------------------------------------------------


def contact(
    child: str, episode: str, received: When, decided: When | None, team: str = "North"
) -> list[EventEnvelope]:
    events = [
        ev("contact_received", child, episode, received, {"contact_source": "police"}, team=team)
    ]
    if decided is not None:
        events.append(
            ev("contact_decision", child, episode, decided, {"outcome": "early_help"}, team=team)
        )
    return events


def referral(
    child: str,
    episode: str,
    received: When,
    *,
    team: str = "North",
    birth_month: str | None = None,
    event_id: str | None = None,
) -> EventEnvelope:
    payload: dict[str, Any] = {"referral_source": "1A"}
    if birth_month is not None:
        payload["birth_month"] = birth_month
    return ev("referral_received", child, episode, received, payload, team=team, event_id=event_id)


def referral_decision(
    child: str, episode: str, decided: When, team: str = "North"
) -> EventEnvelope:
    return ev("referral_decision", child, episode, decided, {"no_further_action": False}, team=team)


def case_closed(child: str, episode: str, closed: When) -> EventEnvelope:
    return ev("case_closed", child, episode, closed, {"reason_for_closure": "RC8"})


def strategy(
    child: str,
    episode: str,
    held: When,
    referral_id: str,
    agencies: tuple[str, ...] = ("police", "health", "education"),
    *,
    team: str = "North",
) -> EventEnvelope:
    payload = {
        "referral_id": referral_id,
        "agencies_attended": list(agencies),
        "initiated_section_47": True,
    }
    return ev("strategy_discussion_held", child, episode, held, payload, team=team)


# --- assessments -------------------------------------------------------------------------------


def assessment(
    child: str,
    episode: str,
    referral_id: str,
    started: When | None,
    authorised: When | None,
    *,
    team: str = "North",
    completed_event_id: str | None = None,
) -> list[EventEnvelope]:
    events = []
    if started is not None:
        events.append(
            ev(
                "assessment_started",
                child,
                episode,
                started,
                {"referral_id": referral_id},
                team=team,
            )
        )
    if authorised is not None:
        events.append(
            ev(
                "assessment_completed",
                child,
                episode,
                authorised,
                {"referral_id": referral_id},
                team=team,
                event_id=completed_event_id,
            )
        )
    return events


# --- child protection --------------------------------------------------------------------------


def section_47(
    child: str, episode: str, started: When, referral_id: str, strategy_id: str | None = None
) -> EventEnvelope:
    payload: dict[str, Any] = {"referral_id": referral_id}
    if strategy_id is not None:
        payload["strategy_discussion_id"] = strategy_id
    return ev("section_47_started", child, episode, started, payload)


def section_47_completed(child: str, episode: str, completed: When, outcome: str) -> EventEnvelope:
    return ev("section_47_completed", child, episode, completed, {"outcome": outcome})


def icpc(
    child: str, episode: str, held: When, section_47_id: str, plan: bool = True
) -> EventEnvelope:
    payload = {"section_47_id": section_47_id, "child_protection_plan": plan}
    return ev("initial_cp_conference_held", child, episode, held, payload)


def cp_plan(
    child: str,
    episode: str,
    started: When,
    ended: When | None = None,
    *,
    icpc_id: str | None = None,
    team: str = "North",
) -> list[EventEnvelope]:
    payload: dict[str, Any] = {}
    if icpc_id is not None:
        payload["initial_conference_id"] = icpc_id
    events = [ev("cp_plan_started", child, episode, started, payload, team=team)]
    if ended is not None:
        events.append(ev("cp_plan_ended", child, episode, ended, {}, team=team))
    return events


def core_group(child: str, episode: str, held: When, plan_id: str) -> EventEnvelope:
    return ev("core_group_held", child, episode, held, {"child_protection_plan_id": plan_id})


def review_conference(child: str, episode: str, held: When, plan_id: str) -> EventEnvelope:
    payload = {"child_protection_plan_id": plan_id, "plan_continues": True}
    return ev("review_cp_conference_held", child, episode, held, payload)


def visit(
    child: str,
    episode: str,
    held: When,
    purpose: str,
    *,
    seen: bool = True,
    serves: str | None = None,
) -> EventEnvelope:
    payload: dict[str, Any] = {
        "purpose": purpose,
        "child_seen": seen,
        "child_seen_alone": seen,
    }
    if serves is not None:
        payload["serves_episode_id"] = serves
    return ev("visit_held", child, episode, held, payload)


# --- looked after ------------------------------------------------------------------------------


def period_of_care(
    child: str,
    episode: str,
    started: When,
    ended: When | None = None,
    *,
    birth_month: str | None = "2015-01",
    reason_ceased: str = "E13",
    team: str = "North",
    ended_team: str | None = None,
) -> list[EventEnvelope]:
    payload = {"legal_status": "C2", "category_of_need": "N1"}
    if birth_month is not None:
        payload["birth_month"] = birth_month
    events = [ev("period_of_care_started", child, episode, started, payload, team=team)]
    if ended is not None:
        events.append(
            ev(
                "period_of_care_ended",
                child,
                episode,
                ended,
                {"reason_episode_ceased": reason_ceased},
                team=ended_team or team,
            )
        )
    return events


def placement(
    child: str,
    episode: str,
    started: When,
    period_of_care_id: str,
    *,
    ended: When | None = None,
    permanent: bool = False,
) -> list[EventEnvelope]:
    payload = {
        "period_of_care_id": period_of_care_id,
        "placement_type": "U1",
        "permanent": permanent,
    }
    events = [ev("placement_started", child, episode, started, payload)]
    if ended is not None:
        events.append(ev("placement_ended", child, episode, ended, {}))
    return events


def dated_check(
    event_type: str, child: str, episode: str, held: When, period_of_care_id: str
) -> EventEnvelope:
    return ev(event_type, child, episode, held, {"period_of_care_id": period_of_care_id})


# --- court -------------------------------------------------------------------------------------


def proceedings(
    child: str,
    episode: str,
    issued: When,
    concluded: When | None = None,
    *,
    extension_weeks: int = 0,
    team: str = "North",
) -> list[EventEnvelope]:
    events = [ev("care_proceedings_issued", child, episode, issued, {}, team=team)]
    if extension_weeks:
        events.append(
            ev(
                "care_proceedings_extension_granted",
                child,
                episode,
                issued,
                {"weeks": extension_weeks, "reason": "expert_assessment"},
                team=team,
            )
        )
    if concluded is not None:
        events.append(
            ev(
                "care_proceedings_concluded",
                child,
                episode,
                concluded,
                {"final_order": "care_order"},
                team=team,
            )
        )
    return events


def plo(
    child: str, episode: str, started: When, concluded: When | None = None
) -> list[EventEnvelope]:
    events = [ev("plo_started", child, episode, started, {})]
    if concluded is not None:
        events.append(ev("plo_concluded", child, episode, concluded, {"outcome": "issued"}))
    return events


def exception_reason(child: str, episode: str, when: When, kpi: str, reason: str) -> EventEnvelope:
    return ev("exception_reason_recorded", child, episode, when, {"kpi": kpi, "reason": reason})


def void(target: EventEnvelope, when: When = "2025-03-31") -> EventEnvelope:
    """A void naming only the event it withdraws, as the contract allows."""
    payload = {"voided_event_id": target.event_id}
    return ev("event_voided", target.child_id, target.episode_id, when, payload)


def child_details(child: str, when: When, birth_month: str | None) -> EventEnvelope:
    payload = {"birth_month": birth_month} if birth_month is not None else {}
    raw = event_dict("child_details_recorded", child_id=child, episode_id="x", occurred_at=when,
                     team="North", payload=payload)  # fmt: skip
    del raw["episode_id"]  # the contract lets a case system leave it out
    return parse_event(json.dumps(raw))


def comparable(evaluation: Evaluation) -> tuple[Any, ...]:
    """Everything an evaluation says, in an order two evaluations can be compared in."""
    return (
        sorted(evaluation.figures, key=repr),
        sorted(evaluation.service_figures, key=repr),
        sorted(evaluation.breaches, key=repr),
        sorted(evaluation.open_clocks, key=repr),
        sorted(evaluation.issues, key=repr),
        evaluation.clock_counts,
        evaluation.breach_counts,
        evaluation.issue_counts,
    )


# --- the team page's worked case ---------------------------------------------------------------


def assessed(
    child: str, referred: str, authorised: str | None, team: str = "North"
) -> list[EventEnvelope]:
    return [
        referral(child, f"E-{child}", referred, team=team),
        *assessment(child, f"E-{child}", f"E-{child}", referred, authorised, team=team),
    ]


def assessments_in_february(team: str = "North", other_team: str = "South") -> list[EventEnvelope]:
    """The team page's worked case, as at 14 February 2025: three assessments authorised in
    February (two in time), two open and due by the 28th, one overdue, one due in April, and
    another team's open one."""
    return [
        # authorised in February: two within 45 working days of the referral, one not
        *assessed("A1", "2025-01-06", "2025-02-03", team),
        *assessed("A2", "2025-01-08", "2025-02-05", team),
        *assessed("A3", "2024-11-01", "2025-02-10", team),
        # open, due 20 and 21 February: still in time
        *assessed("B1", "2024-12-16", None, team),
        *assessed("B2", "2024-12-17", None, team),
        # open, due 22 January: overdue already
        *assessed("C1", "2024-11-15", None, team),
        # open, due 7 April: after the month ends
        *assessed("D1", "2025-02-03", None, team),
        # another team's open assessment, due in February
        *assessed("S1", "2024-12-16", None, other_team),
    ]
