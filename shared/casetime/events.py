"""The casetime event contract, version 1.

Every event is one envelope (who, when, which episode) with a typed payload. The envelope's
``event_type`` selects the payload model; unknown fields are refused everywhere so that a case
system's mapping mistake is reported to it, not silently dropped.

Personal data is limited to what a KPI needs: pseudonymous child, episode and worker ids, and a
child's month of birth where an age band depends on it. No names, addresses, NHS numbers or notes.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Annotated, Any, Literal, Union
from zoneinfo import ZoneInfo

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    Tag,
    TypeAdapter,
)

CONTRACT_VERSION = 1
LONDON = ZoneInfo("Europe/London")

# Identifiers are pseudonymous tokens from the case system: bounded, printable, no spaces.
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")
]
# Revisions are counted in a 32-bit signed integer by every store casetime runs on.
MAX_REVISION = 2**31 - 1
# Event times casetime can reason about: the working-day calendar and every store hold these.
# Ingest narrows them further to plausible dates (casetime.ingest, configurable).
EARLIEST_EVENT_DATE = date(1900, 1, 1)
LATEST_EVENT_DATE = date(2100, 12, 31)


def _nhs_number(digits: str) -> bool:
    """Ten digits whose last is the NHS modulus-11 check digit of the first nine."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    check = 11 - sum(int(d) * (10 - i) for i, d in enumerate(digits[:9])) % 11
    return (0 if check == 11 else check) == int(digits[9])


NHS_NUMBER_SHAPE = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)")
POSTCODE_SHAPE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b", re.IGNORECASE)
# "John.Smith", "Jane_Doe", "Mary-Ann Jones": capitalised words joined, the shape of a name
NAME_SHAPE = re.compile(r"^[A-Z][a-z]+(?:[._ \-][A-Z][a-z']+)+$")


def contains_nhs_number(text: str) -> bool:
    return any(_nhs_number(re.sub(r"\D", "", m.group())) for m in NHS_NUMBER_SHAPE.finditer(text))


def _pseudonymous(value: str) -> str:
    """A child or worker id must be a pseudonymous token, not an NHS number or a name."""
    if contains_nhs_number(value):
        raise ValueError("must be a pseudonymous id: this is an NHS number")
    if NAME_SHAPE.fullmatch(value):
        raise ValueError("must be a pseudonymous id: this has the shape of a person's name")
    return value


PseudonymousId = Annotated[Identifier, AfterValidator(_pseudonymous)]


def _no_personal_data(text: str) -> str:
    if contains_nhs_number(text):
        raise ValueError("must not hold an NHS number: describe the reason, not the child")
    if POSTCODE_SHAPE.search(text):
        raise ValueError("must not hold a postcode: describe the reason, not the child")
    return text


# Free text only where the catalogue allows it ("other" reasons): short, and no personal data.
ShortReasonText = Annotated[
    str, StringConstraints(max_length=100, strip_whitespace=True), AfterValidator(_no_personal_data)
]
TeamName = Annotated[str, StringConstraints(min_length=1, max_length=100, strip_whitespace=True)]
Code = Annotated[str, StringConstraints(min_length=1, max_length=40, strip_whitespace=True)]
# "YYYY-MM": month and year of birth only, never the day.
BirthMonth = Annotated[str, StringConstraints(pattern=r"^(19|20)\d\d-(0[1-9]|1[0-2])$")]
# A date, or a date and time. A time without a UTC offset is Europe/London local time, as case
# systems export it (catalogue section 10.9): it is converted to UTC here, once, and a local time
# that the clock changes make ambiguous or skip is refused rather than guessed.


def _date_only(value: Any) -> Any:
    # Without this pydantic reads a "2025-01-08T00:00" as a date, silently dropping a time, and a
    # number as a Unix timestamp.
    if isinstance(value, datetime) or not isinstance(value, (str, date)):
        raise ValueError("a date must be YYYY-MM-DD")
    if isinstance(value, str) and len(value.strip()) != 10:
        raise ValueError("a date must be YYYY-MM-DD; a date and time is YYYY-MM-DDTHH:MM:SS")
    return value


def _date_and_time(value: Any) -> Any:
    # A number is not a time (pydantic would read it as a Unix timestamp).
    if isinstance(value, (datetime, str)):
        return value
    raise ValueError(
        "must be a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM:SS, with or without"
        " its UTC offset)"
    )


def _time_kind(value: Any) -> str:
    """Which member of EventTime a value is meant as: a ten-character string is a date."""
    if isinstance(value, datetime):
        return "datetime"
    if isinstance(value, date) or (isinstance(value, str) and len(value.strip()) == 10):
        return "date"
    return "datetime"


def _within_bounds(day: date) -> None:
    if not EARLIEST_EVENT_DATE <= day <= LATEST_EVENT_DATE:
        raise ValueError(f"must be from {EARLIEST_EVENT_DATE} to {LATEST_EVENT_DATE}")


def _bounded_date(value: date) -> date:
    _within_bounds(value)
    return value


def _bounded_instant(value: datetime) -> datetime:
    # checked in UTC and in London, so that no conversion the services make can overflow
    try:
        _within_bounds(value.astimezone(UTC).date())
        _within_bounds(value.astimezone(LONDON).date())
    except OverflowError:
        raise ValueError(f"must be from {EARLIEST_EVENT_DATE} to {LATEST_EVENT_DATE}") from None
    return value


def london_to_utc(value: datetime) -> datetime:
    """A time with an offset as it is; a time without one read as Europe/London local time and
    given in UTC. Refuses the local times that the clock changes make ambiguous (the hour the
    clocks go back happens twice) or skip (the hour they go forward never happens)."""
    if value.tzinfo is not None:
        return value
    _within_bounds(value.date())  # before converting, so that no conversion can overflow
    first = value.replace(tzinfo=LONDON, fold=0)
    if first.astimezone(UTC).astimezone(LONDON).replace(tzinfo=None) != value:
        raise ValueError(
            f"{value:%Y-%m-%dT%H:%M:%S} does not exist in Europe/London (the clocks go forward"
            " then); give the time with its UTC offset"
        )
    if first.utcoffset() != value.replace(tzinfo=LONDON, fold=1).utcoffset():
        raise ValueError(
            f"{value:%Y-%m-%dT%H:%M:%S} happens twice in Europe/London (the clocks go back"
            " then); give the time with its UTC offset"
        )
    return first.astimezone(UTC)


LocalOrAwareDatetime = Annotated[
    datetime,
    BeforeValidator(_date_and_time),
    AfterValidator(london_to_utc),
    AfterValidator(_bounded_instant),
]
EventTime = Annotated[
    Annotated[LocalOrAwareDatetime, Tag("datetime")]
    | Annotated[date, BeforeValidator(_date_only), AfterValidator(_bounded_date), Tag("date")],
    Discriminator(_time_kind),
]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def local_date(value: EventTime) -> date:
    """The calendar date in England on which something happened."""
    if isinstance(value, datetime):
        return value.astimezone(LONDON).date()
    return value


def as_start_instant(value: EventTime) -> datetime:
    """A date-only start counts from 00:00 London time (catalogue section 1). In UTC, so that
    subtracting two instants gives elapsed time across a clock change, not wall-clock time."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.combine(value, time.min, tzinfo=LONDON).astimezone(UTC)


def as_end_instant(value: EventTime) -> datetime:
    """A date-only end counts at 23:59:59 London time (catalogue section 1), in UTC."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return datetime.combine(value, time(23, 59, 59), tzinfo=LONDON).astimezone(UTC)


def is_date_only(value: EventTime) -> bool:
    return not isinstance(value, datetime)


# --- payload vocabularies -------------------------------------------------------------------


class ContactOutcome(StrEnum):
    PROGRESSED_TO_REFERRAL = "progressed_to_referral"
    EARLY_HELP = "early_help"
    NO_FURTHER_ACTION = "no_further_action"


class Agency(StrEnum):
    POLICE = "police"
    HEALTH = "health"
    EDUCATION = "education"
    OTHER = "other"


class Section47Outcome(StrEnum):
    ICPC_REQUIRED = "icpc_required"
    ICPC_NOT_REQUIRED = "icpc_not_required"


class PloOutcome(StrEnum):
    ISSUED = "issued"
    STEPPED_DOWN = "stepped_down"


class VisitPurpose(StrEnum):
    CHILD_PROTECTION = "child_protection"
    LOOKED_AFTER = "looked_after"
    CHILD_IN_NEED = "child_in_need"


class ExceptionReason(StrEnum):
    """Why a clock breached its timescale (catalogue section 5)."""

    # care proceedings over 26 weeks
    EXTENSION_GRANTED = "extension_granted"
    LATE_KINSHIP_OR_SGO_ASSESSMENT = "late_kinship_or_sgo_assessment"
    EXPERT_ASSESSMENT = "expert_assessment"
    PARENTAL_PROGRESS_TESTED = "parental_progress_tested"
    INTERNATIONAL_ELEMENT = "international_element"
    PARALLEL_CRIMINAL_PROCEEDINGS = "parallel_criminal_proceedings"
    THIRD_PARTY_DISCLOSURE_DELAY = "third_party_disclosure_delay"
    NEW_PARTY_OR_CHILD_JOINED = "new_party_or_child_joined"
    COURT_LISTING = "court_listing"
    LOCAL_AUTHORITY_DELAY = "local_authority_delay"
    # assessments, conferences and reviews
    CHILD_OR_FAMILY_UNAVAILABLE = "child_or_family_unavailable"
    AWAITING_PARTNER_INFORMATION = "awaiting_partner_information"
    CHAIR_AGREED_DELAY = "chair_agreed_delay"
    TRANSFER_IN = "transfer_in"
    RECORDING_LATE = "recording_late"
    OTHER = "other"


class SourceDataset(StrEnum):
    """A dataset that records less than a case system does. Events taken from one name it, so
    a KPI whose evidence it never records leaves them out of its cohort ("no data", not 0%)."""

    CIN_CENSUS = "cin_census"  # the children in need census return
    SSDA903 = "ssda903"  # the looked-after children return
    SSD = "ssd"  # the Standard Safeguarding Dataset's reporting tables


# --- payloads -------------------------------------------------------------------------------
# The episode each event belongs to is the envelope's episode_id; a payload names only the
# other episodes it links to (e.g. the referral an assessment answers).


class ContactReceived(_Frozen):
    contact_source: Code | None = None


class ContactDecision(_Frozen):
    outcome: ContactOutcome
    referral_id: Identifier | None = Field(
        default=None, description="The referral opened, when the contact progressed to one."
    )


class ReferralReceived(_Frozen):
    referral_source: Code | None = Field(
        default=None, description="DfE ReferralSource code, e.g. 1A (police)."
    )
    birth_month: BirthMonth | None = None


class ReferralDecision(_Frozen):
    no_further_action: StrictBool | None = None
    next_steps: Code | None = Field(
        default=None,
        description="What was decided; `strategy_discussion` opens the referral's 48-hour"
        " strategy discussion clock.",
    )


class StrategyDiscussionHeld(_Frozen):
    referral_id: Identifier
    agencies_attended: frozenset[Agency]
    initiated_section_47: StrictBool


class Section47Started(_Frozen):
    referral_id: Identifier
    strategy_discussion_id: Identifier | None = None


class Section47Completed(_Frozen):
    outcome: Section47Outcome


class InitialChildProtectionConferenceHeld(_Frozen):
    section_47_id: Identifier
    strategy_discussion_id: Identifier | None = None
    child_protection_plan: StrictBool = Field(description="Whether the conference made a plan.")


class ReviewChildProtectionConferenceHeld(_Frozen):
    child_protection_plan_id: Identifier
    plan_continues: StrictBool | None = None


class ChildProtectionPlanStarted(_Frozen):
    initial_conference_id: Identifier | None = None


class ChildProtectionPlanEnded(_Frozen):
    reason: Code | None = None


class CoreGroupHeld(_Frozen):
    child_protection_plan_id: Identifier


class AssessmentStarted(_Frozen):
    referral_id: Identifier | None = None


class AssessmentCompleted(_Frozen):
    """occurred_at is the authorisation date (AssessmentAuthorisationDate). Without the
    referral, ASMT-45WD counts the assessment as late and data quality lists it."""

    referral_id: Identifier | None = None
    factors: frozenset[Code] = frozenset()


class AssessmentOutcome(StrEnum):
    NO_FURTHER_ACTION = "no_further_action"
    EARLY_HELP = "early_help"
    CHILD_IN_NEED_PLAN = "child_in_need_plan"
    STRATEGY_DISCUSSION = "strategy_discussion"
    LOOKED_AFTER = "looked_after"
    OTHER = "other"
    NOT_RECORDED = "not_recorded"  # what a version 1 event becomes when read as version 2


class AssessmentCompletedV2(AssessmentCompleted):
    """Version 2 adds what the assessment decided."""

    outcome: AssessmentOutcome


class VisitHeld(_Frozen):
    """Any visit in which the child was seen counts for CP-VISITS and CLA-VISITS alike."""

    purpose: VisitPurpose | None = None
    child_seen: StrictBool
    child_seen_alone: StrictBool | None = None
    serves_episode_id: Identifier | None = Field(
        default=None, description="The plan or placement this visit served."
    )


class ChildInNeedPlanStarted(_Frozen):
    pass


class ChildInNeedPlanEnded(_Frozen):
    pass


class CaseClosed(_Frozen):
    reason_for_closure: Code = Field(description="DfE ReasonForClosure, RC1 to RC8.")


class PeriodOfCareStarted(_Frozen):
    legal_status: Code = Field(description="SSDA903 LS, e.g. C2 or V2.")
    category_of_need: Code = Field(description="SSDA903 CIN, N1 to N8.")
    birth_month: BirthMonth | None = None


class PeriodOfCareEnded(_Frozen):
    reason_episode_ceased: Code = Field(description="SSDA903 REC, e.g. E13 (returned home).")


class PlacementStarted(_Frozen):
    period_of_care_id: Identifier
    placement_type: Code = Field(description="SSDA903 PLACE.")
    placement_provider: Code | None = Field(default=None, description="SSDA903 PLACE_PROVIDER.")
    reason_new_episode: Code | None = Field(default=None, description="SSDA903 RNE.")
    permanent: StrictBool = Field(
        default=False, description="Agreed as the child's permanent placement (visits at 3 months)."
    )


class PlacementEnded(_Frozen):
    reason_place_change: Code | None = Field(
        default=None, description="SSDA903 REASON_PLACE_CHANGE."
    )


class LookedAfterReviewHeld(_Frozen):
    period_of_care_id: Identifier


class HealthAssessmentHeld(_Frozen):
    period_of_care_id: Identifier | None = None


class DentalCheckHeld(_Frozen):
    period_of_care_id: Identifier | None = None


class PreProceedingsStarted(_Frozen):
    pass


class PreProceedingsConcluded(_Frozen):
    outcome: PloOutcome


class CareProceedingsIssued(_Frozen):
    court_case_number: Identifier | None = None


class CareProceedingsExtensionGranted(_Frozen):
    weeks: StrictInt = Field(ge=1, le=8, description="Each extension is at most 8 weeks (s.32(8)).")
    reason: Code


class CareProceedingsConcluded(_Frozen):
    final_order: Code | None = Field(
        default=None, description="e.g. care_order, sgo, placement_order, no_order."
    )


class ExceptionReasonRecorded(_Frozen):
    """A reason attached to a breached clock, identified by KPI and episode."""

    kpi: Code = Field(description="The KPI id whose clock breached, e.g. PROC-26W.")
    reason: ExceptionReason
    other_text: ShortReasonText | None = Field(
        default=None, description="Short description when the reason is 'other'; no case notes."
    )


class CaseAllocated(_Frozen):
    """The envelope's team and worker_id are the new allocation; its episode_id, the case, may
    be left out."""


class ChildDetailsRecorded(_Frozen):
    """What the case system holds about the child; the latest known at the as-at date wins."""

    birth_month: BirthMonth | None = None


class EventVoided(_Frozen):
    voided_event_id: Identifier = Field(description="The event withdrawn.")
    voided_event_type: str | None = Field(
        default=None, description="Optional: the withdrawn event's type, for the sender's records."
    )


# --- the envelope ---------------------------------------------------------------------------


class EventEnvelope(_Frozen):
    event_id: Identifier = Field(description="Chosen by the sender; the idempotency key.")
    revision: StrictInt = Field(
        default=1,
        ge=1,
        le=MAX_REVISION,
        description="Amendments resend the same event_id with a higher revision,"
        " which replaces the old.",
    )
    # Narrowed to one version by each event type's subclass; senders may keep sending an older
    # version of a type after a newer one is introduced.
    schema_version: int = 1
    occurred_at: EventTime = Field(
        description="When it happened in the child's life: a date, or a date-time with offset."
    )
    recorded_at: LocalOrAwareDatetime = Field(
        description="When it was recorded in the case system (without an offset: London time)."
    )
    source_system: Code
    source_dataset: SourceDataset | None = Field(
        default=None,
        description="Set by connectors when the event was taken from an annual return or the "
        "SSD rather than the case system's own record; left out by case systems.",
    )
    child_id: PseudonymousId = Field(
        description="Pseudonymous child id: not an NHS number, not a name."
    )
    episode_id: Identifier = Field(
        description="The referral, assessment, enquiry, plan, period of care, placement or "
        "proceedings this event belongs to."
    )
    team: TeamName = Field(description="The responsible team.")
    worker_id: PseudonymousId | None = Field(
        default=None, description="Pseudonymous worker id: not a name."
    )
    # Narrowed to a Literal and a payload model by each event type's subclass below.
    event_type: str
    payload: _Frozen

    @property
    def occurred_on(self) -> date:
        return local_date(self.occurred_at)

    @property
    def recorded_on(self) -> date:
        return local_date(self.recorded_at)

    def dedupe_key(self) -> tuple[str, int]:
        return (self.event_id, self.revision)


# Event types whose episode a case system may not hold: the episode id each takes when left out.
DEFAULT_EPISODE_IDS: dict[str, str] = {"case_allocated": "case", "child_details_recorded": "child"}


def _event(name: str, payload: type[_Frozen], doc: str, version: int = 1) -> type[EventEnvelope]:
    """One envelope subclass per event type and schema version."""
    suffix = "" if version == 1 else f"V{version}"
    optional_episode: dict[str, Any] = {}
    if name in DEFAULT_EPISODE_IDS:
        optional_episode = {
            "episode_id": Field(
                default=DEFAULT_EPISODE_IDS[name],
                description="Optional for this event type: the case it belongs to.",
            )
        }
    model: type[EventEnvelope] = type(
        "".join(part.title() for part in name.split("_")) + suffix + "Event",
        (EventEnvelope,),
        {
            "__annotations__": {
                "event_type": Literal[name],
                "schema_version": Literal[version],
                "payload": payload,
                **({"episode_id": Identifier} if optional_episode else {}),
            },
            **optional_episode,
            "schema_version": version,
            "__doc__": doc if version == 1 else f"{doc} (schema version {version})",
            "__module__": __name__,
        },
    )
    return model


# event_type -> (payload model, description). The single list of event types.
EVENT_TYPES: dict[str, tuple[type[_Frozen], str]] = {
    "contact_received": (ContactReceived, "A contact about a child reached the front door."),
    "contact_decision": (ContactDecision, "A decision on a contact."),
    "referral_received": (
        ReferralReceived,
        "A referral to children's social care (CINreferralDate).",
    ),
    "referral_decision": (ReferralDecision, "Next steps decided on a referral."),
    "strategy_discussion_held": (StrategyDiscussionHeld, "A strategy discussion took place."),
    "section_47_started": (Section47Started, "A section 47 enquiry started (S47ActualStartDate)."),
    "section_47_completed": (Section47Completed, "A section 47 enquiry completed."),
    "initial_cp_conference_held": (
        InitialChildProtectionConferenceHeld,
        "An initial child protection conference was held (DateOfInitialCPC).",
    ),
    "review_cp_conference_held": (
        ReviewChildProtectionConferenceHeld,
        "A review child protection conference was held.",
    ),
    "cp_plan_started": (
        ChildProtectionPlanStarted,
        "A child protection plan started (CPPstartDate).",
    ),
    "cp_plan_ended": (ChildProtectionPlanEnded, "A child protection plan ended (CPPendDate)."),
    "core_group_held": (CoreGroupHeld, "A core group meeting was held."),
    "assessment_started": (AssessmentStarted, "An assessment started (AssessmentActualStartDate)."),
    "assessment_completed": (
        AssessmentCompleted,
        "An assessment was completed and authorised (AssessmentAuthorisationDate).",
    ),
    "visit_held": (VisitHeld, "A visit to the child."),
    "cin_plan_started": (ChildInNeedPlanStarted, "A child in need plan started."),
    "cin_plan_ended": (ChildInNeedPlanEnded, "A child in need plan ended."),
    "case_closed": (CaseClosed, "A child in need episode closed (CINclosureDate)."),
    "period_of_care_started": (PeriodOfCareStarted, "A period of care started (DECOM)."),
    "period_of_care_ended": (PeriodOfCareEnded, "A period of care ended (DEC)."),
    "placement_started": (PlacementStarted, "A placement started."),
    "placement_ended": (PlacementEnded, "A placement ended."),
    "looked_after_review_held": (LookedAfterReviewHeld, "A looked-after review was held (REVIEW)."),
    "health_assessment_held": (HealthAssessmentHeld, "A looked-after health assessment."),
    "dental_check_held": (DentalCheckHeld, "A looked-after child's dental check."),
    "plo_started": (PreProceedingsStarted, "Pre-proceedings (PLO) started."),
    "plo_concluded": (PreProceedingsConcluded, "Pre-proceedings (PLO) concluded."),
    "care_proceedings_issued": (CareProceedingsIssued, "A care application was issued."),
    "care_proceedings_extension_granted": (
        CareProceedingsExtensionGranted,
        "The court extended the 26-week timetable.",
    ),
    "care_proceedings_concluded": (CareProceedingsConcluded, "Care proceedings concluded."),
    "exception_reason_recorded": (ExceptionReasonRecorded, "A reason recorded for a breach."),
    "case_allocated": (CaseAllocated, "The case was allocated to a worker and team."),
    "child_details_recorded": (
        ChildDetailsRecorded,
        "The child's details (month of birth) were recorded or corrected.",
    ),
    "event_voided": (EventVoided, "An earlier event is withdrawn."),
}

# Later schema versions of an event type, and how to read an older version as the next one.
# Old events stay on the topics for ever; consumers read them through these upcasts.
LATER_VERSIONS: dict[str, dict[int, type[_Frozen]]] = {
    "assessment_completed": {2: AssessmentCompletedV2},
}
UPCASTS: dict[tuple[str, int], Callable[[dict[str, Any]], dict[str, Any]]] = {
    ("assessment_completed", 1): lambda payload: {**payload, "outcome": "not_recorded"},
}

EVENT_MODELS: dict[str, type[EventEnvelope]] = {
    name: _event(name, payload, doc) for name, (payload, doc) in EVENT_TYPES.items()
}
VERSIONED_MODELS: dict[tuple[str, int], type[EventEnvelope]] = {
    (name, 1): model for name, model in EVENT_MODELS.items()
} | {
    (name, version): _event(name, payload, EVENT_TYPES[name][1], version)
    for name, versions in LATER_VERSIONS.items()
    for version, payload in versions.items()
}


def latest_version(event_type: str) -> int:
    return max(LATER_VERSIONS.get(event_type, {1: EVENT_TYPES[event_type][0]}))


def _tag(value: Any) -> str | None:
    if isinstance(value, dict):
        event_type, version = value.get("event_type"), value.get("schema_version", 1)
    else:
        event_type = getattr(value, "event_type", None)
        version = getattr(value, "schema_version", 1)
    return f"{event_type} v{version}"


def event_union(event_types: tuple[str, ...]) -> Any:
    """A union of the given event types in every schema version, told apart by event_type and
    schema_version, for validation and OpenAPI."""
    tagged = [
        (f"{name} v{version}", model)
        for (name, version), model in VERSIONED_MODELS.items()
        if name in event_types
    ]
    if len(tagged) == 1:
        return tagged[0][1]
    members = tuple(Annotated[model, Tag(tag)] for tag, model in tagged)
    expected = ", ".join(repr(tag) for tag, _ in tagged)
    return Annotated[
        Union[members],  # noqa: UP007  (a runtime tuple of members)
        Discriminator(
            _tag,
            custom_error_type="unknown_event_type",
            custom_error_message=(
                "event_type and schema_version name no event accepted here; "
                f"expected one of {expected}"
            ),
        ),
    ]


def upcast(event: EventEnvelope) -> EventEnvelope:
    """The event as the latest schema version of its type (the domain reads only that)."""
    while (step := (event.event_type, event.schema_version)) in UPCASTS:
        body = event.model_dump(mode="json")
        body["payload"] = UPCASTS[step](body["payload"])
        body["schema_version"] = event.schema_version + 1
        event = VERSIONED_MODELS[(event.event_type, event.schema_version + 1)].model_validate(body)
    return event


# Every event type, discriminated by event_type: what the KPI service reads off the topics.
AnyEvent: Any = event_union(tuple(EVENT_MODELS))
ANY_EVENT_ADAPTER: TypeAdapter[EventEnvelope] = TypeAdapter(AnyEvent)


def parse_event(raw: bytes | str) -> EventEnvelope:
    """Parse one event from its JSON wire form (raises pydantic.ValidationError)."""
    return ANY_EVENT_ADAPTER.validate_json(raw)
