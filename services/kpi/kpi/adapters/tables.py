"""The KPI state store's tables (SQLModel). Schema changes go through Alembic migrations."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import BigInteger, Index, Text, text
from sqlmodel import Field, SQLModel


class CaseEventRecord(SQLModel, table=True):
    """Every event applied, latest revision: the dedupe record and the source of episode folds."""

    __tablename__ = "case_event"
    __table_args__ = (
        Index("ix_case_event_episode", "episode_kind", "episode_id", "child_id"),
        Index("ix_case_event_recorded_on", "recorded_on"),
        Index("ix_case_event_child", "child_id"),
    )

    event_id: str = Field(primary_key=True, max_length=128)
    revision: int
    event_type: str = Field(max_length=64)
    episode_kind: str | None = Field(default=None, max_length=32)
    episode_id: str = Field(max_length=128)
    child_id: str = Field(max_length=128)
    occurred_on: date
    recorded_on: date  # in London; RECORDING-LAG counts events by it
    team: str = Field(max_length=100)
    # the return or SSD a connector took it from; NULL for a case system's own event
    source_dataset: str | None = Field(default=None, max_length=16)
    body: str = Field(sa_type=Text)
    voided_by: str | None = Field(default=None, max_length=128)
    kafka_topic: str | None = Field(default=None, max_length=200)
    kafka_partition: int | None = None
    kafka_offset: int | None = Field(default=None, sa_type=BigInteger)
    applied_at: datetime = Field(sa_column_kwargs={"nullable": False})


class VoidRecord(SQLModel, table=True):
    """A void, kept even when the voided event has not arrived yet (topics are not ordered
    against each other)."""

    __tablename__ = "event_void"

    voided_event_id: str = Field(primary_key=True, max_length=128)
    void_event_id: str = Field(max_length=128)


class EpisodeRecord(SQLModel, table=True):
    """Per-episode state folded from its events; indexed columns serve the KPI queries."""

    __tablename__ = "episode"
    __table_args__ = (
        Index("ix_episode_kind_closed_on", "kind", "closed_on"),
        Index("ix_episode_kind_child", "kind", "child_id"),
        # a unit's episodes, read by the facts keeper for every child it derives
        Index("ix_episode_child", "child_id"),
    )

    kind: str = Field(primary_key=True, max_length=32)
    episode_id: str = Field(primary_key=True, max_length=128)
    child_id: str = Field(primary_key=True, max_length=128)
    team: str = Field(max_length=100)
    opened_on: date | None = None
    closed_on: date | None = None
    referral_id: str | None = Field(default=None, max_length=128)
    state: str = Field(sa_type=Text)
    updated_at: datetime


class DeadLetterRecord(SQLModel, table=True):
    """A message that could not be applied; kept so nothing is silently lost."""

    __tablename__ = "dead_letter"

    id: int | None = Field(default=None, primary_key=True)
    kafka_topic: str = Field(max_length=200)
    kafka_partition: int
    kafka_offset: int = Field(sa_type=BigInteger)
    reason: str = Field(sa_type=Text)
    raw: str = Field(sa_type=Text)
    received_at: datetime


class FactGenerationRecord(SQLModel, table=True):
    """The as-at dates whose facts are kept: the live date and the dates its figures are
    compared with. ``built`` once every unit's facts are in; until then ``cursor`` is the last
    unit done. ``rules`` fingerprints the council's rule settings the facts were derived with."""

    __tablename__ = "fact_generation"

    as_at: date = Field(primary_key=True)
    rules: str = Field(sa_type=Text)
    built: bool = False
    cursor: str = Field(default="", sa_type=Text)
    created_at: datetime


class FactUnitRecord(SQLModel, table=True):
    """One unit's (a child's, or a care proceedings application's) contributions to the totals
    as at a date: what to take away when its facts are derived again."""

    __tablename__ = "fact_unit"

    as_at: date = Field(primary_key=True)
    unit: str = Field(primary_key=True, sa_type=Text)
    cells: str = Field(sa_type=Text)


class FactTotalRecord(SQLModel, table=True):
    """The sum of every unit's contribution to one cell (see ``kpi.domain.facts``)."""

    __tablename__ = "fact_total"

    as_at: date = Field(primary_key=True)
    key: str = Field(primary_key=True, sa_type=Text)
    numerator: int = Field(sa_type=BigInteger)
    denominator: int = Field(sa_type=BigInteger)


class FactItemRecord(SQLModel, table=True):
    """A child-level row behind the counts: an open clock, a breach or a data-quality issue."""

    __tablename__ = "fact_item"
    __table_args__ = (
        Index("ix_fact_item_unit", "as_at", "unit"),
        Index("ix_fact_item_kind_team", "as_at", "kind", "team"),
    )

    id: int | None = Field(default=None, primary_key=True)
    as_at: date
    unit: str = Field(sa_type=Text)
    kind: str = Field(max_length=16)
    team: str = Field(max_length=100)
    body: str = Field(sa_type=Text)


class DirtyUnitRecord(SQLModel, table=True):
    """A unit whose episodes changed since its facts were derived: ``live`` for the live date
    (and any newer one being built), ``past`` for the earlier dates kept. ``since``: the
    earliest day its changes happened on; a kept date before it is left as it is."""

    __tablename__ = "dirty_unit"
    # the keeper takes units off one queue at a time
    __table_args__ = (Index("ix_dirty_unit_queue", "queue", "unit"),)

    unit: str = Field(primary_key=True, sa_type=Text)
    queue: str = Field(primary_key=True, max_length=8)
    since: date = Field(sa_column_kwargs={"server_default": text("'0001-01-01'")})
