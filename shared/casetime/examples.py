"""One realistic example per event type: shown in every OpenAPI document and tested to parse."""

from __future__ import annotations

import copy
from typing import Any

_ENVELOPE: dict[str, Any] = {
    "schema_version": 1,
    "recorded_at": "2025-01-06T16:20:00Z",
    "source_system": "mosaic",
    "child_id": "C-7F3A91",
    "team": "North Assessment",
    "worker_id": "W-0042",
}

# event_type -> (episode_id, occurred_at, payload); no episode id where it may be left out
_EXAMPLES: dict[str, tuple[str | None, str, dict[str, Any]]] = {
    "contact_received": ("CON-1001", "2025-01-06T09:12:00Z", {"contact_source": "police"}),
    "contact_decision": (
        "CON-1001",
        "2025-01-06T15:40:00Z",
        {"outcome": "progressed_to_referral", "referral_id": "REF-2001"},
    ),
    "referral_received": (
        "REF-2001",
        "2025-01-06T15:45:00Z",
        {"referral_source": "1A", "birth_month": "2016-04"},
    ),
    "referral_decision": (
        "REF-2001",
        "2025-01-07T10:00:00Z",
        {"no_further_action": False, "next_steps": "assessment"},
    ),
    "strategy_discussion_held": (
        "STRAT-3001",
        "2025-01-07T14:00:00Z",
        {
            "referral_id": "REF-2001",
            "agencies_attended": ["police", "health", "education"],
            "initiated_section_47": True,
        },
    ),
    "section_47_started": (
        "S47-4001",
        "2025-01-07",
        {"referral_id": "REF-2001", "strategy_discussion_id": "STRAT-3001"},
    ),
    "section_47_completed": ("S47-4001", "2025-01-17", {"outcome": "icpc_required"}),
    "initial_cp_conference_held": (
        "ICPC-5001",
        "2025-01-27",
        {
            "section_47_id": "S47-4001",
            "strategy_discussion_id": "STRAT-3001",
            "child_protection_plan": True,
        },
    ),
    "review_cp_conference_held": (
        "RCPC-5002",
        "2025-04-24",
        {"child_protection_plan_id": "CPP-6001", "plan_continues": True},
    ),
    "cp_plan_started": ("CPP-6001", "2025-01-27", {"initial_conference_id": "ICPC-5001"}),
    "cp_plan_ended": ("CPP-6001", "2025-09-30", {"reason": "no_longer_at_risk"}),
    "core_group_held": ("CG-6101", "2025-02-05", {"child_protection_plan_id": "CPP-6001"}),
    "assessment_started": ("ASMT-7001", "2025-01-08", {"referral_id": "REF-2001"}),
    "assessment_completed": (
        "ASMT-7001",
        "2025-02-28",
        {"referral_id": "REF-2001", "factors": ["3A", "4A"]},
    ),
    "visit_held": (
        "VIS-8001",
        "2025-02-04T11:00:00Z",
        {
            "purpose": "child_protection",
            "child_seen": True,
            "child_seen_alone": True,
            "serves_episode_id": "CPP-6001",
        },
    ),
    "cin_plan_started": ("CIN-9001", "2025-03-03", {}),
    "cin_plan_ended": ("CIN-9001", "2025-08-29", {}),
    "case_closed": ("REF-2001", "2025-09-01", {"reason_for_closure": "RC1"}),
    "period_of_care_started": (
        "POC-1101",
        "2025-03-10",
        {"legal_status": "C2", "category_of_need": "N1", "birth_month": "2016-04"},
    ),
    "period_of_care_ended": ("POC-1101", "2025-11-14", {"reason_episode_ceased": "E13"}),
    "placement_started": (
        "PL-1201",
        "2025-03-10",
        {
            "period_of_care_id": "POC-1101",
            "placement_type": "U4",
            "placement_provider": "PR1",
            "reason_new_episode": "S",
            "permanent": False,
        },
    ),
    "placement_ended": ("PL-1201", "2025-06-02", {"reason_place_change": "CARPL"}),
    "looked_after_review_held": ("LAR-1301", "2025-04-03", {"period_of_care_id": "POC-1101"}),
    "health_assessment_held": ("HA-1401", "2025-04-01", {"period_of_care_id": "POC-1101"}),
    "dental_check_held": ("DC-1501", "2025-05-12", {"period_of_care_id": "POC-1101"}),
    "plo_started": ("PLO-1601", "2024-11-04", {}),
    "plo_concluded": ("PLO-1601", "2025-02-17", {"outcome": "issued"}),
    "care_proceedings_issued": ("PROC-1701", "2025-02-20", {"court_case_number": "LV25C00123"}),
    "care_proceedings_extension_granted": (
        "PROC-1701",
        "2025-08-14",
        {"weeks": 8, "reason": "expert_assessment"},
    ),
    "care_proceedings_concluded": ("PROC-1701", "2025-09-25", {"final_order": "care_order"}),
    "exception_reason_recorded": (
        "PROC-1701",
        "2025-09-26",
        {"kpi": "PROC-26W", "reason": "extension_granted"},
    ),
    "case_allocated": ("REF-2001", "2025-01-07T09:30:00Z", {}),
    # no episode id, and a London local time without an offset, as case systems export them
    "child_details_recorded": (None, "2025-01-08T11:05:00", {"birth_month": "2016-05"}),
    "event_voided": ("ASMT-7001", "2025-03-01", {"voided_event_id": "mosaic-evt-000131"}),
}


def example_event(event_type: str) -> dict[str, Any]:
    episode_id, occurred_at, payload = _EXAMPLES[event_type]
    return {
        "event_id": f"mosaic-{event_type}-000001",
        "event_type": event_type,
        **_ENVELOPE,
        "occurred_at": occurred_at,
        **({"episode_id": episode_id} if episode_id is not None else {}),
        "payload": copy.deepcopy(payload),
    }


EXAMPLE_TYPES = tuple(_EXAMPLES)


def example_of_version(event_type: str, version: int) -> dict[str, Any]:
    """The example of a later schema version: the v1 example with that version's payload."""
    event = example_event(event_type)
    event["schema_version"] = version
    event["payload"] = copy.deepcopy(_LATER_PAYLOADS[(event_type, version)])
    return event


_LATER_PAYLOADS: dict[tuple[str, int], dict[str, Any]] = {
    ("assessment_completed", 2): {
        "referral_id": "REF-2001",
        "factors": ["3A", "4A"],
        "outcome": "child_in_need_plan",
    },
}
