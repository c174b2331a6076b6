"""What the SQL adapters share: bounded statements, the dialect's insert, live events, episodes
read back from their stored state."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from kpi.adapters.tables import CaseEventRecord
from kpi.domain.episodes import EPISODE_MODELS, AnyEpisode

_EVENT = CaseEventRecord.__table__  # type: ignore[attr-defined]
# an event not withdrawn by a void, and not a void itself
LIVE_EVENT = (_EVENT.c.voided_by.is_(None), _EVENT.c.event_type != "event_voided")
# The live events RECORDING-LAG counts: a connector's (a return's, the SSD's) say nothing of
# when the case system recorded them.
RECORDED_EVENT = (*LIVE_EVENT, _EVENT.c.source_dataset.is_(None))

T = TypeVar("T")


def chunks(items: Sequence[T], size: int = 200) -> Iterator[list[T]]:
    # bounded statements: SQLite allows at most 32,766 parameters in one
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def dialect_of(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "postgresql"


def insert_for(session: AsyncSession) -> Any:
    """The dialect's ``insert``, the one with ON CONFLICT."""
    return sqlite.insert if dialect_of(session) == "sqlite" else postgresql.insert


def episode_of(kind: str, state: str) -> AnyEpisode:
    return EPISODE_MODELS[kind].model_validate_json(state)
