"""Configuration from the environment (prefix CASETIME_), validated at start-up."""

from __future__ import annotations

import re
import sys
from datetime import date
from pathlib import Path
from typing import TypeVar

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "CASETIME_"


class KafkaSettings(BaseSettings):
    # an empty variable is an unset one (CASETIME_KPI_AS_AT= means "today")
    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", env_ignore_empty=True)

    kafka_bootstrap_servers: str | None = Field(
        default=None,
        description="Kafka bootstrap servers, comma separated; unset: the embedded event log.",
    )
    data_dir: Path = Field(
        default=Path(".casetime/embedded"),
        description="Where embedded mode keeps its event log and KPI state.",
    )
    topic_prefix: str = Field(
        default="casetime",
        pattern=r"^[A-Za-z0-9._\-]+$",
        description="Prefix of every topic name, e.g. casetime.referrals.v1.",
    )
    kafka_topic_partitions: int = Field(default=3, ge=1)
    kafka_replication_factor: int = Field(default=1, ge=1)
    # -1 keeps events for ever: the KPI state can always be rebuilt from the topics.
    kafka_retention_ms: int = Field(default=-1)
    kafka_request_timeout_ms: int = Field(default=15_000, ge=1_000)

    @property
    def embedded(self) -> bool:
        return not self.kafka_bootstrap_servers

    @property
    def event_log_path(self) -> Path:
        return self.data_dir / "events.sqlite3"


class ServiceSettings(KafkaSettings):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the KPI store (its state, the credentials and the audit"
        " log; the ingest services read the credentials there); unset: SQLite in the data dir.",
    )
    # a revoked or rotated-out credential stops working within this long
    access_refresh_seconds: float = Field(default=2.0, gt=0, le=60)
    post_rate_per_second: float = Field(
        default=50.0, gt=0, description="Requests a source key may post each second (burst 2x)."
    )
    expensive_rate_per_second: float = Field(
        default=0.5,
        gt=0,
        description="Expensive reads (a past date, a refresh) a token may make each second"
        " (burst 10).",
    )

    @property
    def state_store_url(self) -> str:
        if self.database_url:
            return self.database_url
        path = private_file(self.data_dir / "kpi.sqlite3")
        return f"sqlite+aiosqlite:///{path.resolve()}"


class IngestSettings(ServiceSettings):
    """What an ingest service accepts beyond the contract: plausible dates, bounded bodies, and
    the council's own (not pseudonymous) id pattern refused."""

    earliest_event_date: date = Field(
        default=date(1990, 1, 1), description="Events that happened or were recorded before."
    )
    future_tolerance_hours: float = Field(
        default=24.0, ge=0, le=24 * 31, description="How far ahead of now an event time may be."
    )
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    refused_id_pattern: str | None = Field(
        default=None,
        description="A regular expression matching the case system's own child or worker ids:"
        " ids that match are refused, since they are not pseudonymous.",
    )

    @field_validator("refused_id_pattern")
    @classmethod
    def _compiles(cls, pattern: str | None) -> str | None:
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"not a regular expression: {exc}") from None
        return pattern


def private_file(path: Path) -> Path:
    """A state file only this user can read (0600), in a folder only this user can open
    (0700): the event log and the KPI state hold children's case events."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.parent.chmod(0o700)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    return path


S = TypeVar("S", bound=BaseSettings)


def load_settings(kind: type[S]) -> S:
    """The settings from the environment; a bad value stops the process with one line per
    variable, naming it."""
    try:
        return kind()
    except ValidationError as exc:
        for error in exc.errors():
            name = ENV_PREFIX + "_".join(str(part) for part in error["loc"][:1]).upper()
            print(f"casetime: {name}: {error['msg']}", file=sys.stderr)
        raise SystemExit(2) from None
