"""schemathesis against every operation of all four services, as real processes (embedded mode):
valid and invalid input alike, no answer is a 5xx and every answer conforms to the schema its
OpenAPI documents (issue 10).
Bounded: a few examples per operation, so the whole run takes well under a minute or two."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.result import Ok

from tests.support.processes import ServiceProcess

pytestmark = [pytest.mark.e2e]

SERVICES = ("referrals", "assessments", "placements", "kpi")
CHECKS = (
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, ServiceProcess]]:
    tmp = tmp_path_factory.mktemp("fuzz")
    common = {"CASETIME_DATA_DIR": str(tmp / "embedded"), "CASETIME_TOPIC_PREFIX": "fuzz"}
    kpi_env = {**common, "CASETIME_KPI_AS_AT": "2025-02-14", "CASETIME_KPI_REFRESH_SECONDS": "1"}
    processes = {
        name: ServiceProcess(name, kpi_env if name == "kpi" else common, tmp) for name in SERVICES
    }
    try:
        for process in processes.values():
            process.start()
        for process in processes.values():
            process.wait_ready()
        yield processes
    finally:
        for process in processes.values():
            process.stop()


@pytest.mark.parametrize("service", SERVICES)
def test_no_operation_answers_5xx_or_off_its_schema(
    service: str, running: dict[str, ServiceProcess]
) -> None:
    process = running[service]
    schema = schemathesis.openapi.from_url(f"{process.url}/openapi.json")
    operations = []
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), result.err()
        operations.append(result.ok())
    assert operations, "the service documents no operation"
    for operation, mode in itertools.product(operations, GenerationMode):

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=15,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def fuzz(case: Any) -> None:
            case.call_and_validate(base_url=process.url, checks=list(CHECKS), timeout=30)

        try:
            fuzz()
        except Unsatisfiable:
            # an operation with no input has no invalid input to try
            assert mode is GenerationMode.NEGATIVE
            assert not operation.query
            assert not operation.body
