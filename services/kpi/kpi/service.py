"""Applying one event: dedupe, store, re-fold the episodes it touches. No I/O of its own.

The caller runs this inside one database transaction per batch and commits Kafka offsets only
after that transaction, so each event is applied once in effect: a redelivered event is found in
the event store and changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from casetime.events import EventEnvelope, EventVoided
from kpi.domain.episodes import AnyEpisode, EpisodeKind, episode_kind, fold


class Recorded(StrEnum):
    NEW = "new"
    REPLACED = "replaced"  # an amendment: higher revision of a known event id
    DUPLICATE = "duplicate"  # same event id and revision seen before: no effect
    STALE = "stale"  # an older revision than the one held: no effect


@dataclass(frozen=True)
class RecordResult:
    status: Recorded
    previous: EventEnvelope | None = None


@dataclass(frozen=True, slots=True)
class KafkaPosition:
    topic: str
    partition: int
    offset: int


EpisodeKey = tuple[EpisodeKind, str, str]  # kind, episode id, child id


class CaseRepository(Protocol):
    """The port to the case store, within one open transaction."""

    async def record_event(
        self, event: EventEnvelope, position: KafkaPosition | None
    ) -> RecordResult: ...

    async def void_event(self, voided_event_id: str, void_event_id: str) -> EventEnvelope | None:
        """Mark an event voided (remembering the void if the event has not arrived yet);
        return the voided event if held."""
        ...

    async def unvoid_event(self, voided_event_id: str) -> EventEnvelope | None:
        """Withdraw a void (its void was amended or itself voided); return the event if held."""
        ...

    async def live_events(self, key: EpisodeKey) -> Sequence[EventEnvelope]: ...

    async def save_episode(self, key: EpisodeKey, episode: AnyEpisode | None) -> None: ...


def episode_key(event: EventEnvelope) -> EpisodeKey | None:
    kind = episode_kind(event)
    return None if kind is None else (kind, event.episode_id, event.child_id)


async def apply_event(
    repo: CaseRepository, event: EventEnvelope, position: KafkaPosition | None = None
) -> Recorded:
    result = await repo.record_event(event, position)
    if result.status in (Recorded.DUPLICATE, Recorded.STALE):
        return result.status
    changed: list[EventEnvelope | None] = []
    previous = result.previous
    if previous is not None and isinstance(previous.payload, EventVoided):
        # an amended void no longer withdraws what its earlier revision withdrew
        changed.append(await repo.unvoid_event(previous.payload.voided_event_id))
    if isinstance(event.payload, EventVoided):
        voided = await repo.void_event(event.payload.voided_event_id, event.event_id)
        changed.append(voided)
        if voided is not None and isinstance(voided.payload, EventVoided):
            # voiding a void restores the event it had withdrawn
            changed.append(await repo.unvoid_event(voided.payload.voided_event_id))
    else:
        changed.extend((previous, event))
    touched = {key for e in changed if e is not None and (key := episode_key(e)) is not None}
    for key in sorted(touched):
        await repo.save_episode(key, fold(key[0], await repo.live_events(key)))
    return result.status
