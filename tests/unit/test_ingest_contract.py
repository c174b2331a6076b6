"""What a case system meets at the door (issue 9's contract), in process: the ingest app with an
in-memory publisher. London local times, the optional fields, bare voids and the child's details."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from fastapi.testclient import TestClient

from casetime.events import EventEnvelope
from casetime.examples import example_event
from casetime.ingest import create_app
from casetime.settings import IngestSettings
from tests.support.credentials import Credentials, bearer


class InMemoryPublisher:
    """Keeps what it is given; a fake for the event log port, nothing more."""

    def __init__(self) -> None:
        self.published: list[tuple[str, EventEnvelope]] = []

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def ready(self) -> bool:
        return True

    async def publish(self, topic: str, events: Sequence[EventEnvelope]) -> None:
        self.published.extend((topic, e) for e in events)


@pytest.fixture
def publisher() -> InMemoryPublisher:
    return InMemoryPublisher()


def _client(
    service: str, publisher: InMemoryPublisher, access: Credentials, url: str, **settings: Any
) -> Iterator[TestClient]:
    app = create_app(service, IngestSettings(database_url=url, **settings), publisher=publisher)
    with TestClient(app, headers=bearer(access.source_key)) as client:
        yield client


@pytest.fixture
def referrals(
    publisher: InMemoryPublisher, credentials: Credentials, access_url: str
) -> Iterator[TestClient]:
    yield from _client("referrals", publisher, credentials, access_url)


@pytest.fixture
def assessments(
    publisher: InMemoryPublisher, credentials: Credentials, access_url: str
) -> Iterator[TestClient]:
    yield from _client("assessments", publisher, credentials, access_url)


@pytest.fixture
def placements(
    publisher: InMemoryPublisher, credentials: Credentials, access_url: str
) -> Iterator[TestClient]:
    yield from _client("placements", publisher, credentials, access_url)


def _posted(client: TestClient, body: dict[str, Any]) -> Any:
    return client.post("/events", json=body)


def test_a_time_without_an_offset_is_published_in_utc(
    referrals: TestClient, publisher: InMemoryPublisher
) -> None:
    body = example_event("contact_received")
    body["occurred_at"] = "2025-07-08T09:12:00"  # BST
    body["recorded_at"] = "2025-07-08T09:20:00"
    assert _posted(referrals, body).status_code == 202
    ((_, event),) = publisher.published
    wire = event.model_dump(mode="json")
    assert (wire["occurred_at"], wire["recorded_at"]) == (
        "2025-07-08T08:12:00Z",
        "2025-07-08T08:20:00Z",
    )


@pytest.mark.parametrize(
    ("local", "reason"),
    [("2025-03-30T01:30:00", "does not exist"), ("2025-10-26T01:30:00", "happens twice")],
)
def test_a_local_time_at_a_clock_change_is_a_422_naming_the_field(
    referrals: TestClient, publisher: InMemoryPublisher, local: str, reason: str
) -> None:
    body = example_event("contact_received")
    body["occurred_at"] = local
    response = _posted(referrals, body)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["field"] == "occurred_at"
    assert reason in error["reason"]
    assert publisher.published == []


def test_a_void_needs_only_the_event_it_withdraws(
    assessments: TestClient, publisher: InMemoryPublisher
) -> None:
    body = example_event("event_voided")
    assert body["payload"] == {"voided_event_id": "mosaic-evt-000131"}
    assert _posted(assessments, body).status_code == 202
    assert len(publisher.published) == 1


def test_child_details_are_posted_to_referrals_without_an_episode_id(
    referrals: TestClient, assessments: TestClient, publisher: InMemoryPublisher
) -> None:
    body = example_event("child_details_recorded")
    assert "episode_id" not in body
    assert _posted(assessments, body).status_code == 422  # not the assessments service's
    assert _posted(referrals, body).status_code == 202
    ((topic, event),) = publisher.published
    assert topic.endswith(".referrals.v1")
    assert event.event_type == "child_details_recorded"


@pytest.mark.parametrize(
    ("service", "event_type", "left_out"),
    [
        ("placements", "period_of_care_started", "birth_month"),
        ("referrals", "review_cp_conference_held", "plan_continues"),
        ("assessments", "visit_held", "child_seen_alone"),
        ("assessments", "visit_held", "purpose"),
        ("referrals", "referral_received", "referral_source"),
        ("referrals", "referral_decision", "no_further_action"),
        ("placements", "care_proceedings_concluded", "final_order"),
        ("assessments", "assessment_completed", "referral_id"),
        ("assessments", "assessment_started", "referral_id"),
    ],
)
def test_fields_case_systems_often_do_not_hold_may_be_left_out(
    service: str, event_type: str, left_out: str, request: pytest.FixtureRequest
) -> None:
    client: TestClient = request.getfixturevalue(service)
    body = example_event(event_type)
    assert left_out in body["payload"], "the example should show the field"
    del body["payload"][left_out]
    assert _posted(client, body).status_code == 202


def test_case_allocated_without_a_case_id_is_the_childs_allocation(
    referrals: TestClient, publisher: InMemoryPublisher
) -> None:
    body = example_event("case_allocated")
    del body["episode_id"]
    assert _posted(referrals, body).status_code == 202
    ((_, event),) = publisher.published
    assert event.episode_id == "case"


def test_other_envelopes_still_need_their_episode_id(referrals: TestClient) -> None:
    body = example_event("referral_received")
    del body["episode_id"]
    response = _posted(referrals, body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["detail"]] == ["episode_id"]


@pytest.mark.parametrize(
    ("field", "value", "reason"),
    [
        ("child_id", "9434765919", "NHS number"),
        ("child_id", "John.Smith", "name"),
        ("worker_id", "Mary-Ann.Jones", "name"),
        ("worker_id", "Mary Jones", "pattern"),  # no spaces in any id
    ],
)
def test_ids_that_are_not_pseudonymous_are_refused(
    referrals: TestClient, publisher: InMemoryPublisher, field: str, value: str, reason: str
) -> None:
    body = {**example_event("referral_received"), field: value}
    response = _posted(referrals, body)
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["field"] == field
    assert reason in error["reason"]
    # a ten-digit id whose check digit is not an NHS number's is a pseudonymous token
    assert _posted(referrals, {**body, field: "9434765918"}).status_code == 202
    assert len(publisher.published) == 1


def test_the_councils_own_id_pattern_is_refused(
    publisher: InMemoryPublisher, credentials: Credentials, access_url: str
) -> None:
    pattern = r"P\d{6}"
    for client in _client(
        "referrals", publisher, credentials, access_url, refused_id_pattern=pattern
    ):
        response = _posted(client, {**example_event("referral_received"), "child_id": "P123456"})
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["detail"]] == ["child_id"]
        assert _posted(client, example_event("referral_received")).status_code == 202


@pytest.mark.parametrize(
    "text",
    ["Jane Doe, NHS 943 476 5919, 12 High St", "family moved to SW1A 1AA", "x" * 101],
)
def test_free_text_holds_no_personal_data_and_stays_short(
    placements: TestClient, text: str
) -> None:
    body = example_event("exception_reason_recorded")
    body["payload"] = {"kpi": "PROC-26W", "reason": "other", "other_text": text}
    response = _posted(placements, body)
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["detail"]] == ["payload.other_text"]
    body["payload"]["other_text"] = "court asked for a second expert report"
    assert _posted(placements, body).status_code == 202


def test_a_batch_names_the_implausible_event(
    assessments: TestClient, publisher: InMemoryPublisher
) -> None:
    good = example_event("assessment_started")
    late = {**example_event("assessment_completed"), "recorded_at": "2099-01-01T00:00:00Z"}
    response = assessments.post("/events/batch", json={"events": [good, late]})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["detail"]] == ["events.1.recorded_at"]
    assert publisher.published == []


def test_a_bad_setting_stops_start_up_with_one_line_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from casetime.settings import load_settings

    monkeypatch.setenv("CASETIME_MAX_BODY_BYTES", "lots")
    with pytest.raises(SystemExit) as stopped:
        load_settings(IngestSettings)
    assert stopped.value.code == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert line.startswith("casetime: CASETIME_MAX_BODY_BYTES: ")
    # an empty variable is an unset one
    monkeypatch.setenv("CASETIME_MAX_BODY_BYTES", "")
    assert load_settings(IngestSettings).max_body_bytes == 2 * 1024 * 1024
