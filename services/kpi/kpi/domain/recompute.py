"""The case book from scratch, from a pile of events: the reference the live service must equal.

Applies the same rules as the live path (the latest revision of each event id wins, voids
withdraw events, a voided void restores), but all at once and in memory.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from casetime.events import EventEnvelope, EventVoided
from kpi.domain.casebook import CaseBook, RecordingCount
from kpi.domain.episodes import AnyEpisode, EpisodeKind, episode_kind, fold


def latest_revisions(events: Iterable[EventEnvelope]) -> dict[str, EventEnvelope]:
    latest: dict[str, EventEnvelope] = {}
    for event in events:
        held = latest.get(event.event_id)
        if held is None or event.revision > held.revision:
            latest[event.event_id] = event
    return latest


def live_events(events: Iterable[EventEnvelope]) -> list[EventEnvelope]:
    """Every event not withdrawn by a live void (voids themselves are not live events)."""
    latest = latest_revisions(events)
    voids = {e.event_id: e.payload for e in latest.values() if isinstance(e.payload, EventVoided)}

    def withdrawn(event_id: str, depth: int = 0) -> bool:
        # withdrawn when a void that is not itself withdrawn names it
        return depth < 50 and any(
            target.voided_event_id == event_id and not withdrawn(void_id, depth + 1)
            for void_id, target in voids.items()
        )

    return [e for e in latest.values() if e.event_id not in voids and not withdrawn(e.event_id)]


def episodes_from_events(events: Iterable[EventEnvelope]) -> list[AnyEpisode]:
    grouped: dict[tuple[EpisodeKind, str, str], list[EventEnvelope]] = defaultdict(list)
    for event in live_events(events):
        kind = episode_kind(event)
        if kind is not None:
            grouped[(kind, event.episode_id, event.child_id)].append(event)
    folded = (fold(key[0], group) for key, group in sorted(grouped.items()))
    return [episode for episode in folded if episode is not None]


def recording_counts(events: Iterable[EventEnvelope]) -> list[RecordingCount]:
    counts = Counter((e.team, e.occurred_on, e.recorded_on) for e in live_events(events))
    return [RecordingCount(*key, count) for key, count in sorted(counts.items())]


def casebook_from_events(events: Iterable[EventEnvelope]) -> CaseBook:
    materialised = list(events)
    return CaseBook(episodes_from_events(materialised), recording_counts(materialised))
