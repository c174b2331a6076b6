"""The four services as real processes against the real Kafka and PostgreSQL."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.processes import ServiceProcess

INGEST = ("referrals", "assessments", "placements")


@dataclass
class System:
    ingest: dict[str, ServiceProcess]
    kpi: ServiceProcess
    topic_prefix: str
    kafka_bootstrap: str

    def url(self, service: str) -> str:
        return self.kpi.url if service == "kpi" else self.ingest[service].url


@pytest.fixture
def casetime_system(
    database_url: str, kafka_bootstrap: str, topic_prefix: str, tmp_path: Path
) -> Iterator[System]:
    common = {
        "CASETIME_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "CASETIME_TOPIC_PREFIX": topic_prefix,
        "CASETIME_LOG_LEVEL": "INFO",
    }
    kpi_env = {
        **common,
        "CASETIME_DATABASE_URL": database_url,
        "CASETIME_CONSUMER_GROUP": f"{topic_prefix}-kpi",
        "CASETIME_KPI_AS_AT": "2025-02-14",
        "CASETIME_KPI_REFRESH_SECONDS": "0.5",
        "CASETIME_KAFKA_SESSION_TIMEOUT_MS": "6000",
    }
    system = System(
        ingest={name: ServiceProcess(name, common, tmp_path) for name in INGEST},
        kpi=ServiceProcess("kpi", kpi_env, tmp_path),
        topic_prefix=topic_prefix,
        kafka_bootstrap=kafka_bootstrap,
    )
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
        assert set(codes.values()) <= {0, -signal.SIGTERM}, codes
        for process in processes:
            assert "stopped" in process.log_tail(5), process.log_tail()
