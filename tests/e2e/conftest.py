"""The four services as real processes against the real Kafka and PostgreSQL."""

from __future__ import annotations

import signal
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from casetime.events import EventEnvelope
from casetime.settings import ServiceSettings
from casetime.topics import owner_of
from kpi.migrations import upgrade_to_head
from tests.support import credentials as authed
from tests.support.credentials import Credentials, made_in_thread, present
from tests.support.processes import ServiceProcess, scrape

INGEST = ("referrals", "assessments", "placements")


@dataclass
class System:
    mode: str  # "kafka" (real Kafka and PostgreSQL) or "embedded"
    ingest: dict[str, ServiceProcess]
    kpi: ServiceProcess
    topic_prefix: str
    kafka_bootstrap: str | None
    data_dir: Path
    credentials: Credentials
    store_url: str

    def url(self, service: str) -> str:
        return self.kpi.url if service == "kpi" else self.ingest[service].url


@pytest.fixture(params=["kafka", "embedded"])
def casetime_system(
    request: pytest.FixtureRequest, topic_prefix: str, tmp_path: Path
) -> Iterator[System]:
    """The whole system, once on the real Kafka and PostgreSQL and once embedded: every
    end-to-end test runs in both modes and must get the same figures."""
    mode = request.param
    common = {
        "CASETIME_TOPIC_PREFIX": topic_prefix,
        "CASETIME_LOG_LEVEL": "INFO",
        "CASETIME_DATA_DIR": str(tmp_path / "embedded"),
        # the tests post and query hard; the limits have tests of their own (test_access)
        "CASETIME_POST_RATE_PER_SECOND": "1000",
        "CASETIME_EXPENSIVE_RATE_PER_SECOND": "1000",
    }
    kafka_bootstrap: str | None = None
    store: dict[str, str] = {}
    if mode == "kafka":
        kafka_bootstrap = request.getfixturevalue("kafka_bootstrap")
        common["CASETIME_KAFKA_BOOTSTRAP_SERVERS"] = kafka_bootstrap
        store["CASETIME_DATABASE_URL"] = request.getfixturevalue("database_url")
        common.update(store)  # the ingest services read the credentials there
    store_url = ServiceSettings(
        data_dir=tmp_path / "embedded", database_url=store.get("CASETIME_DATABASE_URL")
    ).state_store_url
    # the store is made and its credentials with it before any service starts, as an
    # operator would (`casetime access ...`)
    upgrade_to_head(store_url)
    credentials = made_in_thread(store_url)
    kpi_env = {
        **common,
        **store,
        "CASETIME_CONSUMER_GROUP": f"{topic_prefix}-kpi",
        "CASETIME_KPI_AS_AT": "2025-02-14",
        "CASETIME_KPI_REFRESH_SECONDS": "0.5",
        "CASETIME_KAFKA_SESSION_TIMEOUT_MS": "6000",
    }
    system = System(
        mode=mode,
        ingest={name: ServiceProcess(name, common, tmp_path) for name in INGEST},
        kpi=ServiceProcess("kpi", kpi_env, tmp_path),
        topic_prefix=topic_prefix,
        kafka_bootstrap=kafka_bootstrap,
        data_dir=tmp_path / "embedded",
        credentials=credentials,
        store_url=store_url,
    )
    for ingest in system.ingest.values():
        present(ingest.url, credentials.source_key, reader=credentials.reader)
    present(system.kpi.url, credentials.reader)
    processes = [*system.ingest.values(), system.kpi]
    try:
        for process in processes:
            process.start()
        for process in processes:
            process.wait_ready()
        yield system
    finally:
        codes = {p.module: p.stop() for p in processes}
        # Graceful shutdown on SIGTERM is part of the contract with operators: the lifespan ran
        # to its end (uvicorn then re-raises the signal, hence -SIGTERM as the exit code).
        assert set(codes.values()) <= {0, -signal.SIGTERM, None}, codes
        for process in processes:
            if codes[process.module] is None:
                continue  # a test stopped it already
            assert "stopped" in process.log_tail(5), process.log_tail()


def post_and_apply(system: System, events: Sequence[EventEnvelope]) -> int:
    """Post the events to their ingest services, wait until the KPI service has applied them
    all, and have it read the figures again."""
    by_service: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for event in events:
        by_service[owner_of(event.event_type)].append(event.model_dump(mode="json"))
    before = applied(system)
    for service, batch in by_service.items():
        response = authed.post(f"{system.url(service)}/events/batch", json={"events": batch})
        assert response.status_code == 202, response.text
    wait_until_applied(system, before + len(events), timeout=60)
    authed.post(f"{system.kpi.url}/kpis/refresh", timeout=60).raise_for_status()
    return len(events)


def applied(system: System) -> float:
    """The events the KPI service has applied so far (its events counter)."""
    samples = scrape(system.kpi.url)
    return sum(v for (name, _), v in samples.items() if name == "casetime_kpi_events_total")


def wait_until_applied(system: System, count: float, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while applied(system) < count:
        assert time.monotonic() < deadline, "events not applied in time"
        time.sleep(0.25)
