"""The event contract v1: examples, strictness, event time, and which service owns each type."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from casetime.events import (
    EVENT_TYPES,
    LONDON,
    as_end_instant,
    as_start_instant,
    is_date_only,
    parse_event,
)
from casetime.examples import EXAMPLE_TYPES, example_event
from casetime.topics import (
    INGEST_SERVICES,
    SERVICE_EVENT_TYPES,
    SHARED_EVENT_TYPES,
    accepted_types,
    owner_of,
)


def _parse(raw: dict[str, Any]) -> Any:
    return parse_event(json.dumps(raw))


# --- examples -------------------------------------------------------------------------------


def test_every_event_type_has_an_example_and_no_example_is_stale() -> None:
    assert sorted(EXAMPLE_TYPES) == sorted(EVENT_TYPES)


@pytest.mark.parametrize("event_type", sorted(EVENT_TYPES))
def test_every_example_parses_as_its_own_event_type(event_type: str) -> None:
    event = _parse(example_event(event_type))
    payload_model = EVENT_TYPES[event_type][0]
    assert event.event_type == event_type
    assert type(event.payload) is payload_model
    assert event.schema_version == 1


# --- unknown fields -------------------------------------------------------------------------


def test_an_unknown_envelope_field_is_refused() -> None:
    raw = example_event("referral_received")
    raw["nhs_number"] = "9434765919"
    with pytest.raises(ValidationError, match="nhs_number"):
        _parse(raw)


def test_an_unknown_payload_field_is_refused() -> None:
    raw = example_event("assessment_completed")
    raw["payload"]["case_notes"] = "free text must never travel"
    with pytest.raises(ValidationError, match="case_notes"):
        _parse(raw)


def test_an_unknown_field_in_an_empty_payload_is_refused() -> None:
    raw = example_event("case_allocated")  # its payload has no fields at all
    raw["payload"]["worker_name"] = "A Person"
    with pytest.raises(ValidationError, match="worker_name"):
        _parse(raw)


def test_a_payload_of_another_event_type_is_refused() -> None:
    # An assessment_started envelope carrying a care_proceedings_concluded payload.
    raw = example_event("assessment_started")
    raw["payload"] = example_event("care_proceedings_concluded")["payload"]
    with pytest.raises(ValidationError):
        _parse(raw)


def test_an_unknown_event_type_is_refused() -> None:
    raw = example_event("assessment_started")
    raw["event_type"] = "assessment_reopened"
    with pytest.raises(ValidationError):
        _parse(raw)


# --- event time -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("local", "utc"),
    [
        # Without an offset a time is Europe/London local time (catalogue section 10.9): GMT in
        # January, BST in July; converted to UTC once, here.
        ("2025-01-08T09:00:00", datetime(2025, 1, 8, 9, 0, tzinfo=UTC)),
        ("2025-07-08T09:00:00", datetime(2025, 7, 8, 8, 0, tzinfo=UTC)),
        ("2025-07-08T23:59:59", datetime(2025, 7, 8, 22, 59, 59, tzinfo=UTC)),
        # Midnight without an offset is still a time, not a date: read as the date 8 Jan it
        # would be flagged date-only and, as the end of an hour clock, read as 23:59:59.
        ("2025-01-08T00:00:00", datetime(2025, 1, 8, 0, 0, tzinfo=UTC)),
        ("2025-01-08T00:00", datetime(2025, 1, 8, 0, 0, tzinfo=UTC)),
    ],
)
def test_a_time_without_an_offset_is_london_time(local: str, utc: datetime) -> None:
    raw = example_event("contact_decision")
    raw["occurred_at"] = local
    raw["recorded_at"] = local
    event = _parse(raw)
    assert event.occurred_at == utc
    assert event.recorded_at == utc
    assert not is_date_only(event.occurred_at)


@pytest.mark.parametrize(
    ("local", "why"),
    [
        # 30 Mar 2025: the clocks went from 01:00 GMT to 02:00 BST; 01:30 never happened
        ("2025-03-30T01:30:00", "does not exist in Europe/London"),
        # 26 Oct 2025: the clocks went back from 02:00 BST to 01:00 GMT; 01:30 happened twice
        ("2025-10-26T01:30:00", "happens twice in Europe/London"),
    ],
)
@pytest.mark.parametrize("field", ["occurred_at", "recorded_at"])
def test_a_local_time_the_clock_change_skips_or_repeats_is_refused(
    local: str, why: str, field: str
) -> None:
    raw = example_event("contact_decision")
    raw[field] = local
    with pytest.raises(ValidationError, match=why):
        _parse(raw)
    # with its offset the same moment is accepted
    raw[field] = local + "+01:00"
    assert _parse(raw)


def test_a_date_only_occurred_at_is_accepted_and_flagged_date_only() -> None:
    raw = example_event("assessment_started")
    raw["occurred_at"] = "2025-01-08"
    event = _parse(raw)
    assert event.occurred_at == date(2025, 1, 8)
    assert is_date_only(event.occurred_at)
    assert event.occurred_on == date(2025, 1, 8)
    # As a start it counts from 00:00 in London; as an end, at 23:59:59.
    assert as_start_instant(event.occurred_at) == datetime(2025, 1, 8, tzinfo=LONDON)
    assert as_end_instant(event.occurred_at) == datetime(2025, 1, 8, 23, 59, 59, tzinfo=LONDON)


def test_an_occurred_at_with_an_offset_keeps_its_time() -> None:
    raw = example_event("contact_decision")
    raw["occurred_at"] = "2025-07-01T08:30:00+01:00"
    event = _parse(raw)
    assert not is_date_only(event.occurred_at)
    assert event.occurred_at.utcoffset() == timedelta(hours=1)
    assert as_end_instant(event.occurred_at) == event.occurred_at


def test_the_day_something_happened_is_the_day_in_england() -> None:
    # 23:30 UTC on Mon 30 Jun 2025 is 00:30 BST on Tue 1 Jul; 23:30 UTC on 31 Jan 2025 is
    # still 31 Jan in London (GMT).
    raw = example_event("contact_decision")
    raw["occurred_at"] = "2025-06-30T23:30:00Z"
    assert _parse(raw).occurred_on == date(2025, 7, 1)
    raw["occurred_at"] = "2025-01-31T23:30:00Z"
    assert _parse(raw).occurred_on == date(2025, 1, 31)


# --- topics: who owns what ------------------------------------------------------------------


def test_every_event_type_has_exactly_one_home() -> None:
    owned = [t for types in SERVICE_EVENT_TYPES.values() for t in types] + list(SHARED_EVENT_TYPES)
    counts = Counter(owned)
    assert set(counts) == set(EVENT_TYPES)
    assert {t: n for t, n in counts.items() if n != 1} == {}


def test_owner_of_names_the_service_that_lists_the_type() -> None:
    assert owner_of("referral_received") == "referrals"
    assert owner_of("assessment_completed") == "assessments"
    assert owner_of("care_proceedings_issued") == "placements"
    with pytest.raises(KeyError):
        owner_of("event_voided")  # shared, owned by no single service


def test_every_service_accepts_its_own_types_and_the_shared_ones_only() -> None:
    for service in INGEST_SERVICES:
        accepted = accepted_types(service)
        assert set(accepted) == set(SERVICE_EVENT_TYPES[service]) | set(SHARED_EVENT_TYPES)
        for other in INGEST_SERVICES:
            if other != service:
                assert not set(accepted) & set(SERVICE_EVENT_TYPES[other])
