"""Configuration from the environment (prefix CASETIME_), validated at start-up."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class KafkaSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CASETIME_", extra="ignore")

    kafka_bootstrap_servers: str = Field(
        default="127.0.0.1:19092", description="Kafka bootstrap servers, comma separated."
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


class ServiceSettings(KafkaSettings):
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "INFO"
