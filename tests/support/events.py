"""Building events for tests: realistic envelopes with only what a test cares about spelled out."""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any

from casetime.events import EventEnvelope, parse_event


def event_dict(
    event_type: str,
    *,
    child_id: str,
    episode_id: str,
    occurred_at: date | datetime | str,
    team: str = "North Assessment",
    payload: dict[str, Any] | None = None,
    event_id: str | None = None,
    revision: int = 1,
) -> dict[str, Any]:
    when = occurred_at if isinstance(occurred_at, str) else occurred_at.isoformat()
    return {
        "event_id": event_id or f"test-{uuid.uuid4().hex}",
        "revision": revision,
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": when,
        "recorded_at": "2025-03-31T17:00:00Z",
        "source_system": "test-case-system",
        "child_id": child_id,
        "episode_id": episode_id,
        "team": team,
        "payload": payload or {},
    }


def event(event_type: str, **kwargs: Any) -> EventEnvelope:
    return parse_event(json.dumps(event_dict(event_type, **kwargs)))
