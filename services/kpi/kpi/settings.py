"""KPI service configuration (environment, prefix CASETIME_)."""

from __future__ import annotations

from datetime import date, time
from pathlib import Path

from pydantic import Field

from casetime.settings import ServiceSettings
from casetime.topics import SERVICES


class KpiSettings(ServiceSettings):
    port: int = Field(default=SERVICES["kpi"].port, ge=1, le=65535)
    consumer_group: str = "casetime-kpi"
    # Small in tests so a restarted consumer rejoins quickly; Kafka's default is 45 s.
    kafka_session_timeout_ms: int = Field(default=10_000, ge=1_000)
    # No progress for this long while events wait: the consumer is rebuilt.
    consumer_stall_seconds: float = Field(default=60.0, gt=0)
    kpi_refresh_seconds: float = Field(default=10.0, gt=0)
    # Worker processes deriving the KPI facts beside the consumer (0: a thread of this one);
    # started only for rounds of 64 units or more.
    fact_workers: int = Field(default=1, ge=0, le=16)
    # Fix the as-at date (demos, tests, re-running a past month); default: today in London.
    kpi_as_at: date | None = None
    council_config: Path | None = Field(
        default=None,
        description="The council's configuration file (YAML); default: the built-in example.",
    )
    migrate_on_start: bool = True
    # a query for a past date stops after this long (503 with Retry-After)
    query_budget_seconds: float = Field(default=10.0, gt=0, le=300)
    # a month-end freeze evaluates several past dates (direction of travel, revisions)
    freeze_budget_seconds: float = Field(default=600.0, gt=0, le=3600)
    # The scheduled month-end freeze: on the `freeze_day`-th of each month at `freeze_time`
    # (London), the month before is frozen and its pack written into `pack_folder`. Off while
    # no folder is set: set it once the council's history is loaded, or the first freeze would
    # be of a half-loaded month.
    pack_folder: Path | None = None
    freeze_day: int = Field(default=1, ge=1, le=28)
    freeze_time: time = time(6, 0)
    freeze_check_seconds: float = Field(default=60.0, gt=0)
