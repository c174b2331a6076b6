"""The committed JSON Schema and each service's OpenAPI document match the event contract."""

from __future__ import annotations

import json

import pytest

from casetime.events import EVENT_TYPES
from casetime.ingest import create_app
from casetime.schema import SCHEMA_PATH, render
from casetime.topics import INGEST_SERVICES, accepted_types


def test_committed_json_schema_equals_the_contract_in_code() -> None:
    assert SCHEMA_PATH.read_text() == render(), (
        "schemas/ is out of date: run `uv run casetime-schema` and commit the result"
    )


def test_json_schema_names_every_event_type() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    mapping = schema["discriminator"]["mapping"]
    assert set(mapping) == set(EVENT_TYPES)


@pytest.mark.parametrize("service", INGEST_SERVICES)
def test_openapi_has_an_example_for_every_event_type_the_service_accepts(service: str) -> None:
    openapi = create_app(service).openapi()
    body = openapi["paths"]["/events"]["post"]["requestBody"]["content"]["application/json"]
    assert set(body["examples"]) == set(accepted_types(service))
    for event_type, example in body["examples"].items():
        assert example["value"]["event_type"] == event_type


@pytest.mark.parametrize("service", INGEST_SERVICES)
def test_openapi_lists_only_the_service_own_event_types(service: str) -> None:
    schemas = create_app(service).openapi()["components"]["schemas"]
    event_models = {name for name in schemas if name.endswith("Event")}
    expected = {
        "".join(part.title() for part in t.split("_")) + "Event" for t in accepted_types(service)
    }
    assert event_models == expected
