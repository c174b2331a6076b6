"""Which ingest service owns which event types, and the Kafka topics they publish to.

This is the one place that says so: ingest services accept only their own types, and the KPI
service subscribes to every topic named here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from casetime.events import EVENT_TYPES


@dataclass(frozen=True, slots=True)
class Service:
    """One of casetime's four services: its default port, and the event types it ingests."""

    port: int
    event_types: tuple[str, ...] = ()


# The one table of services. The CLI, the services' default ports, scripts/run.sh, the compose
# file, the Dockerfile and the Prometheus configuration are tested against it.
SERVICES: Final[dict[str, Service]] = {
    "referrals": Service(8001, (
        "contact_received",
        "contact_decision",
        "referral_received",
        "referral_decision",
        "strategy_discussion_held",
        "section_47_started",
        "section_47_completed",
        "initial_cp_conference_held",
        "review_cp_conference_held",
        "cp_plan_started",
        "cp_plan_ended",
        "core_group_held",
        "cin_plan_started",
        "cin_plan_ended",
        "case_closed",
        "case_allocated",
        "child_details_recorded",
    )),
    "assessments": Service(8002, (
        "assessment_started",
        "assessment_completed",
        "visit_held",
    )),
    "placements": Service(8003, (
        "period_of_care_started",
        "period_of_care_ended",
        "placement_started",
        "placement_ended",
        "looked_after_review_held",
        "health_assessment_held",
        "dental_check_held",
        "plo_started",
        "plo_concluded",
        "care_proceedings_issued",
        "care_proceedings_extension_granted",
        "care_proceedings_concluded",
    )),
    "kpi": Service(8004),
}  # fmt: skip
SERVICE_EVENT_TYPES: Final[dict[str, tuple[str, ...]]] = {
    name: service.event_types for name, service in SERVICES.items() if service.event_types
}

# Accepted by every ingest service: they refer to events of any area.
SHARED_EVENT_TYPES: Final[tuple[str, ...]] = ("exception_reason_recorded", "event_voided")

INGEST_SERVICES: Final[tuple[str, ...]] = tuple(SERVICE_EVENT_TYPES)

# Topic names carry the contract version so that a breaking change gets new topics; the prefix
# (setting CASETIME_TOPIC_PREFIX) lets several councils or test runs share one cluster.
DEFAULT_TOPIC_PREFIX: Final = "casetime"


def topic_for(service: str, prefix: str = DEFAULT_TOPIC_PREFIX) -> str:
    if service not in SERVICE_EVENT_TYPES:
        raise ValueError(f"unknown ingest service {service!r}")
    return f"{prefix}.{service}.v1"


def event_topics(prefix: str = DEFAULT_TOPIC_PREFIX) -> tuple[str, ...]:
    return tuple(topic_for(s, prefix) for s in INGEST_SERVICES)


def dead_letter_topic(prefix: str = DEFAULT_TOPIC_PREFIX) -> str:
    return f"{prefix}.dead-letter.v1"


def accepted_types(service: str) -> tuple[str, ...]:
    return SERVICE_EVENT_TYPES[service] + SHARED_EVENT_TYPES


def owner_of(event_type: str) -> str:
    for service, types in SERVICE_EVENT_TYPES.items():
        if event_type in types:
            return service
    raise KeyError(event_type)


def _check_every_type_has_one_home() -> None:
    owned = [t for types in SERVICE_EVENT_TYPES.values() for t in types] + list(SHARED_EVENT_TYPES)
    if sorted(owned) != sorted(EVENT_TYPES):
        missing = set(EVENT_TYPES) - set(owned)
        twice = {t for t in owned if owned.count(t) > 1}
        raise RuntimeError(f"event ownership is wrong: missing {missing}, owned twice {twice}")


_check_every_type_has_one_home()
