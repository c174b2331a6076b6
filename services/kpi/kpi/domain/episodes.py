"""Per-episode state, folded from the episode's events.

An episode is what the envelope's ``episode_id`` names: a contact, referral, strategy discussion,
section 47 enquiry, conference, plan, assessment, visit, period of care, placement, review, PLO
or proceedings. ``fold`` is pure and order-tolerant: the state is recomputed from every live event
of the episode in event-time order, so late, out-of-order and amended events land where they
belong and a voided event simply drops out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from casetime.events import (
    Agency,
    AssessmentCompleted,
    AssessmentStarted,
    CareProceedingsConcluded,
    CareProceedingsExtensionGranted,
    CareProceedingsIssued,
    CaseClosed,
    ChildDetailsRecorded,
    ChildProtectionPlanEnded,
    ChildProtectionPlanStarted,
    ContactDecision,
    ContactOutcome,
    ContactReceived,
    CoreGroupHeld,
    EventEnvelope,
    EventVoided,
    ExceptionReason,
    ExceptionReasonRecorded,
    InitialChildProtectionConferenceHeld,
    LookedAfterReviewHeld,
    PeriodOfCareEnded,
    PeriodOfCareStarted,
    PlacementEnded,
    PlacementStarted,
    PloOutcome,
    PreProceedingsConcluded,
    PreProceedingsStarted,
    ReferralDecision,
    ReferralReceived,
    ReviewChildProtectionConferenceHeld,
    Section47Completed,
    Section47Outcome,
    Section47Started,
    SourceDataset,
    StrategyDiscussionHeld,
    VisitHeld,
    VisitPurpose,
    as_end_instant,
    as_start_instant,
    is_date_only,
    local_date,
    upcast,
)

EpisodeKind = Literal[
    "contact",
    "referral",
    "strategy_discussion",
    "section_47",
    "initial_conference",
    "review_conference",
    "cp_plan",
    "core_group",
    "assessment",
    "visit",
    "cin_plan",
    "period_of_care",
    "placement",
    "looked_after_review",
    "health_assessment",
    "dental_check",
    "plo",
    "care_proceedings",
    "allocation",
    "exception",
    "child_details",
]

# The episode kind each event type builds, and whether the event opens the episode.
EPISODE_KIND_OF: dict[str, EpisodeKind] = {
    "contact_received": "contact",
    "contact_decision": "contact",
    "referral_received": "referral",
    "referral_decision": "referral",
    "case_closed": "referral",
    "strategy_discussion_held": "strategy_discussion",
    "section_47_started": "section_47",
    "section_47_completed": "section_47",
    "initial_cp_conference_held": "initial_conference",
    "review_cp_conference_held": "review_conference",
    "cp_plan_started": "cp_plan",
    "cp_plan_ended": "cp_plan",
    "core_group_held": "core_group",
    "assessment_started": "assessment",
    "assessment_completed": "assessment",
    "visit_held": "visit",
    "cin_plan_started": "cin_plan",
    "cin_plan_ended": "cin_plan",
    "period_of_care_started": "period_of_care",
    "period_of_care_ended": "period_of_care",
    "placement_started": "placement",
    "placement_ended": "placement",
    "looked_after_review_held": "looked_after_review",
    "health_assessment_held": "health_assessment",
    "dental_check_held": "dental_check",
    "plo_started": "plo",
    "plo_concluded": "plo",
    "care_proceedings_issued": "care_proceedings",
    "care_proceedings_extension_granted": "care_proceedings",
    "care_proceedings_concluded": "care_proceedings",
    "case_allocated": "allocation",
    "exception_reason_recorded": "exception",
    "child_details_recorded": "child_details",
}

# Events that continue or close an episode, and the event that should have opened it
# (data-quality check "events for an episode that was never opened").
OPENING_EVENT: dict[EpisodeKind, str] = {
    "contact": "contact_received",
    "referral": "referral_received",
    "section_47": "section_47_started",
    "assessment": "assessment_started",
    "cp_plan": "cp_plan_started",
    "cin_plan": "cin_plan_started",
    "period_of_care": "period_of_care_started",
    "placement": "placement_started",
    "plo": "plo_started",
    "care_proceedings": "care_proceedings_issued",
}


def episode_kind(event: EventEnvelope) -> EpisodeKind | None:
    if isinstance(event.payload, EventVoided):
        # a void names only the event it withdraws; the store finds that event's episode
        voided_type = event.payload.voided_event_type
        return EPISODE_KIND_OF.get(voided_type) if voided_type is not None else None
    return EPISODE_KIND_OF.get(event.event_type)


class TeamOnEvent(BaseModel):
    """The team one of the episode's events named, and when that event happened."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    on: date
    event_type: str
    team: str


class Episode(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    episode_id: str
    child_id: str
    # The team on the latest event of all; figures use team_of and team_at instead.
    team: str
    # Every live event's team, in event-time order (catalogue section 10.1).
    teams: tuple[TeamOnEvent, ...] = ()
    # False when the episode's opening event has not arrived (late data, or never sent).
    opened: bool = True
    # The dataset its latest event was taken from (None: the case system's own record).
    source_dataset: SourceDataset | None = None

    def team_of(self, *event_types: str) -> str:
        """The team named on the latest of these events: the event that closed a clock states
        whose figure it is (catalogue section 10.1)."""
        for named in reversed(self.teams):
            if named.event_type in event_types:
                return named.team
        return self.team

    def team_at(self, as_at: date) -> str:
        """The team on the episode's latest event that happened on or before the as-at date:
        who holds an open clock, or a child in a point-in-time cohort, on that day. Nothing that
        happened afterwards moves the episode between teams."""
        held = None
        for named in self.teams:
            if named.on > as_at:
                break
            held = named.team
        if held is not None:
            return held
        return self.teams[0].team if self.teams else self.team

    @property
    def opened_on(self) -> date | None:
        return None

    @property
    def closed_on(self) -> date | None:
        return None

    @property
    def linked_referral_id(self) -> str | None:
        return None


class SpellEpisode(Episode):
    """An episode that starts and may end: a plan, a period of care, a placement."""

    started_on: date | None = None
    ended_on: date | None = None

    @property
    def opened_on(self) -> date | None:
        return self.started_on

    @property
    def closed_on(self) -> date | None:
        return self.ended_on


class Contact(Episode):
    kind: Literal["contact"] = "contact"
    received_at: datetime | None = None
    decided_at: datetime | None = None
    outcome: ContactOutcome | None = None
    date_only: bool = False

    @property
    def opened_on(self) -> date | None:
        return _day(self.received_at)

    @property
    def closed_on(self) -> date | None:
        return _day(self.decided_at)


class Referral(Episode):
    kind: Literal["referral"] = "referral"
    received_at: datetime | None = None
    decided_at: datetime | None = None
    no_further_action: bool | None = None
    next_steps: str | None = None
    closed: date | None = None
    birth_month: str | None = None
    date_only: bool = False

    @property
    def opened_on(self) -> date | None:
        return _day(self.received_at)

    @property
    def closed_on(self) -> date | None:
        return self.closed


class StrategyDiscussion(Episode):
    kind: Literal["strategy_discussion"] = "strategy_discussion"
    held_at: datetime
    referral_id: str
    agencies: frozenset[Agency]
    initiated_section_47: bool
    date_only: bool = False

    @property
    def opened_on(self) -> date | None:
        return _day(self.held_at)

    @property
    def closed_on(self) -> date | None:
        return _day(self.held_at)

    @property
    def linked_referral_id(self) -> str | None:
        return self.referral_id


class Section47(Episode):
    kind: Literal["section_47"] = "section_47"
    started_on: date | None = None
    referral_id: str | None = None
    strategy_discussion_id: str | None = None
    completed_on: date | None = None
    outcome: Section47Outcome | None = None

    @property
    def opened_on(self) -> date | None:
        return self.started_on

    @property
    def closed_on(self) -> date | None:
        return self.completed_on

    @property
    def linked_referral_id(self) -> str | None:
        return self.referral_id


class InitialConference(Episode):
    kind: Literal["initial_conference"] = "initial_conference"
    held_on: date
    section_47_id: str
    strategy_discussion_id: str | None = None
    plan_made: bool

    @property
    def opened_on(self) -> date | None:
        return self.held_on

    @property
    def closed_on(self) -> date | None:
        return self.held_on


class ReviewConference(Episode):
    kind: Literal["review_conference"] = "review_conference"
    held_on: date
    plan_id: str

    @property
    def closed_on(self) -> date | None:
        return self.held_on


class ChildProtectionPlan(SpellEpisode):
    kind: Literal["cp_plan"] = "cp_plan"
    initial_conference_id: str | None = None


class CoreGroup(Episode):
    kind: Literal["core_group"] = "core_group"
    held_on: date
    plan_id: str

    @property
    def closed_on(self) -> date | None:
        return self.held_on


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


class Visit(Episode):
    kind: Literal["visit"] = "visit"
    held_on: date
    purpose: VisitPurpose | None = None
    child_seen: bool
    child_seen_alone: bool | None = None
    serves_episode_id: str | None = None

    @property
    def closed_on(self) -> date | None:
        return self.held_on


class ChildInNeedPlan(SpellEpisode):
    kind: Literal["cin_plan"] = "cin_plan"


class PeriodOfCare(SpellEpisode):
    kind: Literal["period_of_care"] = "period_of_care"
    legal_status: str | None = None
    birth_month: str | None = None
    reason_ceased: str | None = None


class Placement(SpellEpisode):
    kind: Literal["placement"] = "placement"
    period_of_care_id: str | None = None
    permanent: bool = False


class DatedCheck(Episode):
    """A looked-after review, health assessment or dental check: one dated event."""

    kind: Literal["looked_after_review", "health_assessment", "dental_check"]
    held_on: date
    period_of_care_id: str | None = None

    @property
    def closed_on(self) -> date | None:
        return self.held_on


class PreProceedings(Episode):
    kind: Literal["plo"] = "plo"
    started_on: date | None = None
    concluded_on: date | None = None
    outcome: PloOutcome | None = None

    @property
    def opened_on(self) -> date | None:
        return self.started_on

    @property
    def closed_on(self) -> date | None:
        return self.concluded_on


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


class Allocation(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    on: date
    worker_id: str | None
    team: str


class Allocations(Episode):
    """Every allocation of the case (the episode id is the case)."""

    kind: Literal["allocation"] = "allocation"
    allocations: tuple[Allocation, ...] = ()


class RecordedException(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    kpi: str
    reason: ExceptionReason
    recorded_on: date


class Exceptions(Episode):
    """Reasons recorded for breaches of the clock of the episode with this id."""

    kind: Literal["exception"] = "exception"
    reasons: tuple[RecordedException, ...] = ()

    def reason_for(self, kpis: tuple[str, ...], as_at: date) -> ExceptionReason | None:
        """The latest reason recorded by the as-at date for a breach of one of these KPIs."""
        found = [r for r in self.reasons if r.kpi in kpis and r.recorded_on <= as_at]
        return found[-1].reason if found else None


class BirthMonthRecorded(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    at: datetime
    birth_month: str


class ChildDetails(Episode):
    """The child's details as the case system recorded them, each with when (the latest known at
    the as-at date wins; see ``CaseBook.birth_month``)."""

    kind: Literal["child_details"] = "child_details"
    birth_months: tuple[BirthMonthRecorded, ...] = ()


AnyEpisode = (
    Contact
    | Referral
    | StrategyDiscussion
    | Section47
    | InitialConference
    | ReviewConference
    | ChildProtectionPlan
    | CoreGroup
    | Assessment
    | Visit
    | ChildInNeedPlan
    | PeriodOfCare
    | Placement
    | DatedCheck
    | PreProceedings
    | CareProceedings
    | Allocations
    | Exceptions
    | ChildDetails
)


def _day(instant: datetime | None) -> date | None:
    return local_date(instant) if instant is not None else None


P = TypeVar("P", bound=BaseModel)


def _latest(
    events: Sequence[EventEnvelope], payload_type: type[P]
) -> tuple[EventEnvelope, P] | None:
    """The latest event (in event-time order) carrying that payload, for one-event episodes."""
    for event in reversed(events):
        if isinstance(event.payload, payload_type):
            return event, event.payload
    return None


def _event_time_order(event: EventEnvelope) -> tuple[datetime, datetime, str]:
    return (as_start_instant(event.occurred_at), event.recorded_at, event.event_id)


# --- folds: one per kind, over the episode's live events in event-time order ---------------

Fold = Callable[[dict[str, Any], Sequence[EventEnvelope]], AnyEpisode | None]


def _fold_contact(base: dict[str, Any], events: Sequence[EventEnvelope]) -> Contact:
    fields: dict[str, Any] = {"opened": False}
    for e in events:
        if isinstance(e.payload, ContactReceived):
            fields.update(received_at=as_start_instant(e.occurred_at), opened=True)
            fields["date_only"] = fields.get("date_only", False) or is_date_only(e.occurred_at)
        elif isinstance(e.payload, ContactDecision):
            fields.update(decided_at=as_end_instant(e.occurred_at), outcome=e.payload.outcome)
            fields["date_only"] = fields.get("date_only", False) or is_date_only(e.occurred_at)
    return Contact(**base, **fields)


def _fold_referral(base: dict[str, Any], events: Sequence[EventEnvelope]) -> Referral:
    fields: dict[str, Any] = {"opened": False}
    for e in events:
        if isinstance(e.payload, ReferralReceived):
            fields.update(
                received_at=as_start_instant(e.occurred_at),
                birth_month=e.payload.birth_month,
                opened=True,
            )
            fields["date_only"] = fields.get("date_only", False) or is_date_only(e.occurred_at)
        elif isinstance(e.payload, ReferralDecision):
            fields.update(
                decided_at=as_end_instant(e.occurred_at),
                no_further_action=e.payload.no_further_action,
                next_steps=e.payload.next_steps,
            )
            fields["date_only"] = fields.get("date_only", False) or is_date_only(e.occurred_at)
        elif isinstance(e.payload, CaseClosed):
            fields["closed"] = e.occurred_on
    return Referral(**base, **fields)


def _fold_strategy(
    base: dict[str, Any], events: Sequence[EventEnvelope]
) -> StrategyDiscussion | None:
    found = _latest(events, StrategyDiscussionHeld)
    if found is None:
        return None
    e, payload = found
    return StrategyDiscussion(
        **base,
        held_at=as_start_instant(e.occurred_at),
        referral_id=payload.referral_id,
        agencies=payload.agencies_attended,
        initiated_section_47=payload.initiated_section_47,
        date_only=is_date_only(e.occurred_at),
    )


def _fold_section_47(base: dict[str, Any], events: Sequence[EventEnvelope]) -> Section47:
    fields: dict[str, Any] = {"opened": False}
    for e in events:
        if isinstance(e.payload, Section47Started):
            fields.update(
                started_on=e.occurred_on,
                referral_id=e.payload.referral_id,
                strategy_discussion_id=e.payload.strategy_discussion_id,
                opened=True,
            )
        elif isinstance(e.payload, Section47Completed):
            fields.update(completed_on=e.occurred_on, outcome=e.payload.outcome)
    return Section47(**base, **fields)


def _fold_initial_conference(
    base: dict[str, Any], events: Sequence[EventEnvelope]
) -> InitialConference | None:
    found = _latest(events, InitialChildProtectionConferenceHeld)
    if found is None:
        return None
    e, payload = found
    return InitialConference(
        **base,
        held_on=e.occurred_on,
        section_47_id=payload.section_47_id,
        strategy_discussion_id=payload.strategy_discussion_id,
        plan_made=payload.child_protection_plan,
    )


def _fold_review_conference(
    base: dict[str, Any], events: Sequence[EventEnvelope]
) -> ReviewConference | None:
    found = _latest(events, ReviewChildProtectionConferenceHeld)
    if found is None:
        return None
    e, payload = found
    return ReviewConference(**base, held_on=e.occurred_on, plan_id=payload.child_protection_plan_id)


def _fold_cp_plan(base: dict[str, Any], events: Sequence[EventEnvelope]) -> ChildProtectionPlan:
    fields: dict[str, Any] = {"opened": False}
    for e in events:
        if isinstance(e.payload, ChildProtectionPlanStarted):
            fields.update(
                started_on=e.occurred_on,
                initial_conference_id=e.payload.initial_conference_id,
                opened=True,
            )
        elif isinstance(e.payload, ChildProtectionPlanEnded):
            fields["ended_on"] = e.occurred_on
    return ChildProtectionPlan(**base, **fields)


def _fold_core_group(base: dict[str, Any], events: Sequence[EventEnvelope]) -> CoreGroup | None:
    found = _latest(events, CoreGroupHeld)
    if found is None:
        return None
    e, payload = found
    return CoreGroup(**base, held_on=e.occurred_on, plan_id=payload.child_protection_plan_id)


def _fold_assessment(base: dict[str, Any], events: Sequence[EventEnvelope]) -> Assessment:
    fields: dict[str, Any] = {"opened": False}
    for e in events:
        if isinstance(e.payload, AssessmentStarted):
            fields.update(started_on=e.occurred_on, opened=True)
            if fields.get("referral_id") is None:
                fields["referral_id"] = e.payload.referral_id
        elif isinstance(e.payload, AssessmentCompleted):
            fields["authorised_on"] = e.occurred_on
            if e.payload.referral_id is not None:
                fields["referral_id"] = e.payload.referral_id
    return Assessment(**base, **fields)


def _fold_visit(base: dict[str, Any], events: Sequence[EventEnvelope]) -> Visit | None:
    found = _latest(events, VisitHeld)
    if found is None:
        return None
    e, payload = found
    return Visit(
        **base,
        held_on=e.occurred_on,
        purpose=payload.purpose,
        child_seen=payload.child_seen,
        child_seen_alone=payload.child_seen_alone,
        serves_episode_id=payload.serves_episode_id,
    )


def _fold_cin_plan(base: dict[str, Any], events: Sequence[EventEnvelope]) -> ChildInNeedPlan:
    fields: dict[str, Any] = {"opened": False}
    for e in events:
        if e.event_type == "cin_plan_started":
            fields.update(started_on=e.occurred_on, opened=True)
        elif e.event_type == "cin_plan_ended":
            fields["ended_on"] = e.occurred_on
    return ChildInNeedPlan(**base, **fields)


def _fold_period_of_care(base: dict[str, Any], events: Sequence[EventEnvelope]) -> PeriodOfCare:
    fields: dict[str, Any] = {"opened": False}
    for e in events:
        if isinstance(e.payload, PeriodOfCareStarted):
            fields.update(
                started_on=e.occurred_on,
                legal_status=e.payload.legal_status,
                birth_month=e.payload.birth_month,
                opened=True,
            )
        elif isinstance(e.payload, PeriodOfCareEnded):
            fields.update(ended_on=e.occurred_on, reason_ceased=e.payload.reason_episode_ceased)
    return PeriodOfCare(**base, **fields)


def _fold_placement(base: dict[str, Any], events: Sequence[EventEnvelope]) -> Placement:
    fields: dict[str, Any] = {"opened": False}
    for e in events:
        if isinstance(e.payload, PlacementStarted):
            fields.update(
                started_on=e.occurred_on,
                period_of_care_id=e.payload.period_of_care_id,
                permanent=e.payload.permanent,
                opened=True,
            )
        elif isinstance(e.payload, PlacementEnded):
            fields["ended_on"] = e.occurred_on
    return Placement(**base, **fields)


def _fold_dated_check(kind: EpisodeKind) -> Fold:
    def fold_check(base: dict[str, Any], events: Sequence[EventEnvelope]) -> DatedCheck | None:
        if not events:
            return None
        e = events[-1]
        period_of_care_id = getattr(e.payload, "period_of_care_id", None)
        if isinstance(e.payload, LookedAfterReviewHeld):
            period_of_care_id = e.payload.period_of_care_id
        return DatedCheck(
            **base, kind=kind, held_on=e.occurred_on, period_of_care_id=period_of_care_id
        )

    return fold_check


def _fold_plo(base: dict[str, Any], events: Sequence[EventEnvelope]) -> PreProceedings:
    fields: dict[str, Any] = {"opened": False}
    for e in events:
        if isinstance(e.payload, PreProceedingsStarted):
            fields.update(started_on=e.occurred_on, opened=True)
        elif isinstance(e.payload, PreProceedingsConcluded):
            fields.update(concluded_on=e.occurred_on, outcome=e.payload.outcome)
    return PreProceedings(**base, **fields)


def _fold_proceedings(base: dict[str, Any], events: Sequence[EventEnvelope]) -> CareProceedings:
    fields: dict[str, Any] = {"opened": False, "extension_weeks": 0}
    for e in events:
        payload = e.payload
        if isinstance(payload, CareProceedingsIssued):
            fields.update(issued_on=e.occurred_on, opened=True)
        elif isinstance(payload, CareProceedingsExtensionGranted):
            fields["extension_weeks"] += payload.weeks
        elif isinstance(payload, CareProceedingsConcluded):
            fields.update(concluded_on=e.occurred_on, final_order=payload.final_order)
    return CareProceedings(**base, **fields)


def _fold_allocations(base: dict[str, Any], events: Sequence[EventEnvelope]) -> Allocations:
    return Allocations(
        **base,
        allocations=tuple(
            Allocation(on=e.occurred_on, worker_id=e.worker_id, team=e.team) for e in events
        ),
    )


def _fold_exceptions(base: dict[str, Any], events: Sequence[EventEnvelope]) -> Exceptions:
    reasons = tuple(
        RecordedException(kpi=e.payload.kpi, reason=e.payload.reason, recorded_on=e.occurred_on)
        for e in events
        if isinstance(e.payload, ExceptionReasonRecorded)
    )
    return Exceptions(**base, reasons=reasons)


def _fold_child_details(base: dict[str, Any], events: Sequence[EventEnvelope]) -> ChildDetails:
    return ChildDetails(
        **base,
        birth_months=tuple(
            BirthMonthRecorded(
                at=as_start_instant(e.occurred_at), birth_month=e.payload.birth_month
            )
            for e in events
            if isinstance(e.payload, ChildDetailsRecorded) and e.payload.birth_month is not None
        ),
    )


FOLDS: dict[EpisodeKind, Fold] = {
    "contact": _fold_contact,
    "referral": _fold_referral,
    "strategy_discussion": _fold_strategy,
    "section_47": _fold_section_47,
    "initial_conference": _fold_initial_conference,
    "review_conference": _fold_review_conference,
    "cp_plan": _fold_cp_plan,
    "core_group": _fold_core_group,
    "assessment": _fold_assessment,
    "visit": _fold_visit,
    "cin_plan": _fold_cin_plan,
    "period_of_care": _fold_period_of_care,
    "placement": _fold_placement,
    "looked_after_review": _fold_dated_check("looked_after_review"),
    "health_assessment": _fold_dated_check("health_assessment"),
    "dental_check": _fold_dated_check("dental_check"),
    "plo": _fold_plo,
    "care_proceedings": _fold_proceedings,
    "allocation": _fold_allocations,
    "exception": _fold_exceptions,
    "child_details": _fold_child_details,
}

EPISODE_MODELS: dict[str, type[AnyEpisode]] = {
    "contact": Contact,
    "referral": Referral,
    "strategy_discussion": StrategyDiscussion,
    "section_47": Section47,
    "initial_conference": InitialConference,
    "review_conference": ReviewConference,
    "cp_plan": ChildProtectionPlan,
    "core_group": CoreGroup,
    "assessment": Assessment,
    "visit": Visit,
    "cin_plan": ChildInNeedPlan,
    "period_of_care": PeriodOfCare,
    "placement": Placement,
    "looked_after_review": DatedCheck,
    "health_assessment": DatedCheck,
    "dental_check": DatedCheck,
    "plo": PreProceedings,
    "care_proceedings": CareProceedings,
    "allocation": Allocations,
    "exception": Exceptions,
    "child_details": ChildDetails,
}


def fold(kind: EpisodeKind, events: Sequence[EventEnvelope]) -> AnyEpisode | None:
    """The episode's state from its live events, or None when none are left."""
    if not events:
        return None
    # older schema versions are read as the latest, so each fold knows one payload model
    ordered = sorted((upcast(e) for e in events), key=_event_time_order)
    last = ordered[-1]
    base = {
        "episode_id": last.episode_id,
        "child_id": last.child_id,
        "team": last.team,
        "source_dataset": last.source_dataset,
        "teams": tuple(
            TeamOnEvent(on=e.occurred_on, event_type=e.event_type, team=e.team) for e in ordered
        ),
    }
    return FOLDS[kind](base, ordered)
