"""What an ingest service accepts beyond the contract, and the shapes of its answers."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from casetime.errors import FieldError
from casetime.events import EventEnvelope, local_date
from casetime.settings import IngestSettings

MAX_BATCH = 500


class RawBatch(BaseModel):
    """Events are validated one by one, so that the answer can say which were rejected."""

    model_config = ConfigDict(extra="forbid")
    events: list[Any] = Field(min_length=1, max_length=MAX_BATCH)


class Rejected(BaseModel):
    index: int
    event_id: str | None
    errors: list[FieldError]


class Accepted(BaseModel):
    event_id: str
    revision: int
    status: str = "accepted"


class BatchAccepted(BaseModel):
    accepted: list[Accepted]
    rejected: list[Rejected] = []
    count: int


class BatchRejected(BaseModel):
    """A batch refused whole: every error in ``detail`` (as in ``ErrorAnswer``), and, when the
    batch could be read, which events were accepted and which rejected."""

    detail: list[FieldError]
    accepted: list[Accepted] = []
    rejected: list[Rejected] = []


class Unavailable(BaseModel):
    detail: str


def implausible(
    event: EventEnvelope, settings: IngestSettings, now: datetime
) -> list[dict[str, Any]]:
    """The contract's dates checked against today: nothing before the council's earliest date,
    nothing later than the tolerance allows ahead of now; and the council's own ids refused."""
    errors: list[dict[str, Any]] = []
    latest = now + timedelta(hours=settings.future_tolerance_hours)
    for field, value in (("occurred_at", event.occurred_at), ("recorded_at", event.recorded_at)):
        day = local_date(value)
        ahead = value > latest if isinstance(value, datetime) else day > local_date(latest)
        if day < settings.earliest_event_date or ahead:
            errors.append(
                {
                    "field": field,
                    "reason": f"must be from {settings.earliest_event_date} to"
                    f" {settings.future_tolerance_hours:g} hours from now",
                    "type": "implausible_date",
                }
            )
    if settings.refused_id_pattern:
        pattern = re.compile(settings.refused_id_pattern)
        ids = (("child_id", event.child_id), ("worker_id", event.worker_id))
        for name, held in ids:
            if held is not None and pattern.fullmatch(held):
                errors.append(
                    {
                        "field": name,
                        "reason": "must be a pseudonymous id: this matches the case system's own"
                        " ids (CASETIME_REFUSED_ID_PATTERN)",
                        "type": "not_pseudonymous",
                    }
                )
    return errors
