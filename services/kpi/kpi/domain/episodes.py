"""Per-episode state, folded from the episode's events.

``fold`` is pure and order-tolerant: the state is recomputed from every live event of the episode
in event-time order, so late, out-of-order and amended events land where they belong and a voided
event simply drops out.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

from casetime.events import (
    AssessmentCompleted,
    AssessmentStarted,
    CareProceedingsConcluded,
    CareProceedingsExtensionGranted,
    CareProceedingsIssued,
    EventEnvelope,
    EventVoided,
    ReferralReceived,
    as_start_instant,
    local_date,
)

EpisodeKind = Literal["referral", "assessment", "care_proceedings"]

# The episode kind each event type builds. Types not listed are kept in the event store but do
# not yet feed a KPI.
EPISODE_KIND_OF: dict[str, EpisodeKind] = {
    "referral_received": "referral",
    "referral_decision": "referral",
    "assessment_started": "assessment",
    "assessment_completed": "assessment",
    "care_proceedings_issued": "care_proceedings",
    "care_proceedings_extension_granted": "care_proceedings",
    "care_proceedings_concluded": "care_proceedings",
}


def episode_kind(event: EventEnvelope) -> EpisodeKind | None:
    if isinstance(event.payload, EventVoided):
        return EPISODE_KIND_OF.get(event.payload.voided_event_type)
    return EPISODE_KIND_OF.get(event.event_type)


class Episode(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    episode_id: str
    child_id: str
    # The team on the latest event: the team that closed the clock, or holds it open.
    team: str

    @property
    def opened_on(self) -> date | None:
        return None

    @property
    def closed_on(self) -> date | None:
        return None

    @property
    def linked_referral_id(self) -> str | None:
        return None


class Referral(Episode):
    kind: Literal["referral"] = "referral"
    received_at: datetime | None = None

    @property
    def opened_on(self) -> date | None:
        return local_date(self.received_at) if self.received_at else None


class Assessment(Episode):
    kind: Literal["assessment"] = "assessment"
    referral_id: str | None = None
    started_on: date | None = None
    authorised_on: date | None = None

    @property
    def opened_on(self) -> date | None:
        return self.started_on

    @property
    def closed_on(self) -> date | None:
        return self.authorised_on

    @property
    def linked_referral_id(self) -> str | None:
        return self.referral_id


class CareProceedings(Episode):
    """One child's care proceedings; the episode id is the application."""

    kind: Literal["care_proceedings"] = "care_proceedings"
    issued_on: date | None = None
    concluded_on: date | None = None
    extension_weeks: int = 0
    final_order: str | None = None

    @property
    def opened_on(self) -> date | None:
        return self.issued_on

    @property
    def closed_on(self) -> date | None:
        return self.concluded_on


AnyEpisode = Referral | Assessment | CareProceedings
EPISODE_MODELS: dict[EpisodeKind, type[AnyEpisode]] = {
    "referral": Referral,
    "assessment": Assessment,
    "care_proceedings": CareProceedings,
}


def _event_time_order(event: EventEnvelope) -> tuple[datetime, datetime, str]:
    return (as_start_instant(event.occurred_at), event.recorded_at, event.event_id)


def fold(kind: EpisodeKind, events: Sequence[EventEnvelope]) -> AnyEpisode | None:
    """The episode's state from its live events, or None when none are left."""
    if not events:
        return None
    ordered = sorted(events, key=_event_time_order)
    last = ordered[-1]
    base = {"episode_id": last.episode_id, "child_id": last.child_id, "team": last.team}
    if kind == "referral":
        received_at = None
        for event in ordered:
            if isinstance(event.payload, ReferralReceived):
                received_at = as_start_instant(event.occurred_at)
        return Referral(**base, received_at=received_at)
    if kind == "assessment":
        referral_id = started_on = authorised_on = None
        for event in ordered:
            if isinstance(event.payload, AssessmentStarted):
                started_on = event.occurred_on
                referral_id = referral_id or event.payload.referral_id
            elif isinstance(event.payload, AssessmentCompleted):
                authorised_on = event.occurred_on
                referral_id = event.payload.referral_id
        return Assessment(
            **base, referral_id=referral_id, started_on=started_on, authorised_on=authorised_on
        )
    issued_on = concluded_on = final_order = None
    extension_weeks = 0
    for event in ordered:
        payload = event.payload
        if isinstance(payload, CareProceedingsIssued):
            issued_on = event.occurred_on
        elif isinstance(payload, CareProceedingsExtensionGranted):
            extension_weeks += payload.weeks
        elif isinstance(payload, CareProceedingsConcluded):
            concluded_on = event.occurred_on
            final_order = payload.final_order
    return CareProceedings(
        **base,
        issued_on=issued_on,
        concluded_on=concluded_on,
        extension_weeks=extension_weeks,
        final_order=final_order,
    )
