"""The committed JSON Schema and each service's OpenAPI document match the event contract."""

from __future__ import annotations

import json

import pytest

from casetime.events import EVENT_TYPES, VERSIONED_MODELS, parse_event
from casetime.ingest import create_app
from casetime.schema import SCHEMA_PATH, render
from casetime.topics import INGEST_SERVICES, accepted_types


def test_committed_json_schema_equals_the_contract_in_code() -> None:
    assert SCHEMA_PATH.read_text() == render(), (
        "schemas/ is out of date: run `uv run casetime-schema` and commit the result"
    )


def test_json_schema_names_every_event_type_in_every_schema_version() -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    members = {ref["$ref"].rsplit("/", 1)[-1] for ref in schema["oneOf"]}
    assert members == {model.__name__ for model in VERSIONED_MODELS.values()}
    named = {
        (schema["$defs"][m]["properties"]["event_type"]["const"],
         schema["$defs"][m]["properties"]["schema_version"]["const"])
        for m in members
    }  # fmt: skip
    assert named == set(VERSIONED_MODELS)
    assert {t for t, _ in named} == set(EVENT_TYPES)


@pytest.mark.parametrize("service", INGEST_SERVICES)
def test_openapi_has_an_example_for_every_event_type_the_service_accepts(service: str) -> None:
    openapi = create_app(service).openapi()
    body = openapi["paths"]["/events"]["post"]["requestBody"]["content"]["application/json"]
    later = {f"{t} v{v}" for t, v in VERSIONED_MODELS if v > 1 and t in accepted_types(service)}
    assert set(body["examples"]) == set(accepted_types(service)) | later
    for name, example in body["examples"].items():
        assert example["value"]["event_type"] == name.split(" ")[0]
        parse_event(json.dumps(example["value"]))


@pytest.mark.parametrize("service", INGEST_SERVICES)
def test_openapi_lists_only_the_service_own_event_types(service: str) -> None:
    schemas = create_app(service).openapi()["components"]["schemas"]
    event_models = {name for name in schemas if name.endswith("Event")}
    expected = {
        model.__name__ for (t, _), model in VERSIONED_MODELS.items() if t in accepted_types(service)
    }
    assert event_models == expected
