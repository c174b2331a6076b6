"""A fresh system per fault test: three ingest services and the KPI service as real processes on
the real Kafka and PostgreSQL, with their own topics, consumer group and database."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kpi.migrations import upgrade_to_head
from tests.faults.harness import LIVE_AS_AT, FaultSystem
from tests.support.credentials import Credentials, made_in_thread
from tests.support.scripts import run_script

MakeSystem = Callable[..., FaultSystem]


@pytest.fixture
def make_system(
    kafka_bootstrap: str,
    postgres_server: str,
    database_url: str,
    topic_prefix: str,
    tmp_path: Path,
) -> Iterator[MakeSystem]:
    systems: list[FaultSystem] = []
    made: list[Credentials] = []

    def make(
        ingest: dict[str, str] | None = None, kpi: dict[str, str] | None = None
    ) -> FaultSystem:
        common = {
            "CASETIME_KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "CASETIME_TOPIC_PREFIX": topic_prefix,
            "CASETIME_LOG_LEVEL": "INFO",
            "CASETIME_DATA_DIR": str(tmp_path / "unused"),
            # the ingest services read the credentials in the KPI store
            "CASETIME_DATABASE_URL": database_url,
            "CASETIME_POST_RATE_PER_SECOND": "1000",
            "CASETIME_EXPENSIVE_RATE_PER_SECOND": "1000",
        }
        system = FaultSystem(
            topic_prefix=topic_prefix,
            kafka_bootstrap=kafka_bootstrap,
            database_url=database_url,
            log_dir=tmp_path,
            ingest_env={**common, **(ingest or {})},
            kpi_env={
                **common,
                "CASETIME_CONSUMER_GROUP": f"{topic_prefix}-kpi",
                "CASETIME_KPI_AS_AT": LIVE_AS_AT,
                "CASETIME_KPI_REFRESH_SECONDS": "5",
                "CASETIME_KAFKA_SESSION_TIMEOUT_MS": "6000",
                "CASETIME_CONSUMER_STALL_SECONDS": "15",
                **(kpi or {}),
            },
        )
        systems.append(system)
        if not systems[:-1]:  # one store per test: its credentials made once, before any start
            upgrade_to_head(database_url)
            made.append(made_in_thread(database_url))
        system.credentials = made[0]
        system.start()
        return system

    try:
        yield make
    finally:
        for system in systems:
            system.stop()
        # A fault test may have left the shared Kafka or PostgreSQL stopped: start is idempotent.
        run_script("kafka.sh", "start")
        run_script("postgres.sh", "start")
