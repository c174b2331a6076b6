"""Configuration from the environment (prefix CASETIME_), validated at start-up."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASETIME_", extra="ignore")

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
