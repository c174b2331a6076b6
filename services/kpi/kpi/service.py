"""Applying one event: dedupe, store, re-fold the episodes it touches. No I/O of its own.

The caller runs this inside one database transaction per batch and commits Kafka offsets only
after that transaction, so each event is applied once in effect: a redelivered event is found in
the event store and changes nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Protocol, TypeVar

from casetime.events import EventEnvelope, EventVoided
from kpi.domain.episodes import AnyEpisode, EpisodeKind, episode_kind, fold
from kpi.domain.facts import unit_of_application, unit_of_child


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
# each episode a batch changed, with the earliest day the change reaches back to
Touched = dict[EpisodeKey, date]
K = TypeVar("K")


class CaseRepository(Protocol):
    """The port to the case store, within one open transaction."""

    async def record_event(
        self, event: EventEnvelope, position: KafkaPosition | None
    ) -> RecordResult: ...

    async def insert_new(
        self, items: Sequence[tuple[EventEnvelope, KafkaPosition | None]]
    ) -> set[str]:
        """Store the events whose ids are not held yet (each id once in ``items``), applying
        any void already recorded for them; return the ids stored."""
        ...

    async def void_event(self, voided_event_id: str, void_event_id: str) -> EventEnvelope | None:
        """Mark an event voided (remembering the void if the event has not arrived yet);
        return the voided event if held."""
        ...

    async def unvoid_event(self, voided_event_id: str) -> EventEnvelope | None:
        """Withdraw a void (its void was amended or itself voided); return the event if held."""
        ...

    async def live_events(self, key: EpisodeKey) -> Sequence[EventEnvelope]: ...

    async def save_episode(self, key: EpisodeKey, episode: AnyEpisode | None) -> None: ...

    async def live_events_of(
        self, keys: Sequence[EpisodeKey]
    ) -> Mapping[EpisodeKey, Sequence[EventEnvelope]]:
        """The live events of several episodes at once."""
        ...

    async def save_episodes(self, episodes: Mapping[EpisodeKey, AnyEpisode | None]) -> None:
        """Replace the state of several episodes at once (None: the episode is gone)."""
        ...


def since(event: EventEnvelope) -> date:
    """The earliest as-at date whose facts the event can change: the day it happened, or the
    day it was recorded if earlier (a case system may record a little ahead)."""
    return min(event.occurred_on, event.recorded_on)


def _keep_earliest(days: dict[K, date], key: K, day: date) -> None:
    days[key] = min(day, days.get(key, day))


def _touch(touched: Touched, keys: Touched) -> None:
    for key, day in keys.items():
        _keep_earliest(touched, key, day)


def episode_key(event: EventEnvelope) -> EpisodeKey | None:
    kind = episode_kind(event)
    return None if kind is None else (kind, event.episode_id, event.child_id)


async def record_event(
    repo: CaseRepository, event: EventEnvelope, position: KafkaPosition | None = None
) -> tuple[Recorded, Touched]:
    """Dedupe and store the event (and its voids); return what it did and the episodes whose
    state it changed, each with the earliest day of the events it added, replaced or
    withdrew. Folding them is left to ``refold``, once per batch."""
    return await _after_recording(repo, event, await repo.record_event(event, position))


async def record_events(
    repo: CaseRepository, items: Sequence[tuple[EventEnvelope, KafkaPosition | None]]
) -> tuple[list[Recorded], Touched]:
    """``record_event`` for a batch, with the same result as one by one in order: the first
    occurrence of each id is offered in one bulk insert; the rest (ids already held, later
    revisions in the same batch) go one by one."""
    first: dict[str, int] = {}
    for index, (event, _) in enumerate(items):
        first.setdefault(event.event_id, index)
    inserted = await repo.insert_new([items[i] for i in first.values()])
    statuses: list[Recorded] = []
    touched: Touched = {}
    for index, (event, position) in enumerate(items):
        if first[event.event_id] == index and event.event_id in inserted:
            status, keys = await _after_recording(repo, event, RecordResult(Recorded.NEW))
        else:
            status, keys = await record_event(repo, event, position)
        statuses.append(status)
        _touch(touched, keys)
    return statuses, touched


async def _after_recording(
    repo: CaseRepository, event: EventEnvelope, result: RecordResult
) -> tuple[Recorded, Touched]:
    if result.status in (Recorded.DUPLICATE, Recorded.STALE):
        return result.status, {}
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
    touched: Touched = {}
    for e in changed:
        if e is not None and (key := episode_key(e)) is not None:
            _touch(touched, {key: since(e)})
    return result.status, touched


async def refold(repo: CaseRepository, keys: Collection[EpisodeKey]) -> None:
    """Recompute and save the state of each episode from its live events."""
    if not keys:
        return
    events = await repo.live_events_of(sorted(keys))
    await repo.save_episodes({key: fold(key[0], events.get(key, [])) for key in sorted(keys)})


async def apply_event(
    repo: CaseRepository, event: EventEnvelope, position: KafkaPosition | None = None
) -> Recorded:
    status, touched = await record_event(repo, event, position)
    await refold(repo, touched)
    return status


def units_touched(touched: Mapping[EpisodeKey, date]) -> dict[str, date]:
    """The units whose facts the changed episodes feed, each with the earliest day changed:
    each child, and each care proceedings application (its children may sit on other
    partitions), including one whose exception reasons changed (they are recorded against the
    application's episode id)."""
    units: dict[str, date] = {}
    for (kind, episode_id, child_id), day in touched.items():
        named = [unit_of_child(child_id)]
        if kind in ("care_proceedings", "exception"):
            named.append(unit_of_application(episode_id))
        for unit in named:
            _keep_earliest(units, unit, day)
    return units
