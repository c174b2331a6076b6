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
    voids_of: dict[str, list[str]] = defaultdict(list)  # event id -> ids of voids naming it
    for e in latest.values():
        if isinstance(e.payload, EventVoided):
            voids_of[e.payload.voided_event_id].append(e.event_id)
    withdrawn_memo: dict[str, bool] = {}

    def withdrawn(event_id: str, depth: int = 0) -> bool:
        # withdrawn when a void that is not itself withdrawn names it
        if event_id not in withdrawn_memo:
            withdrawn_memo[event_id] = depth < 50 and any(
                not withdrawn(void_id, depth + 1) for void_id in voids_of.get(event_id, ())
            )
        return withdrawn_memo[event_id]

    return [
        e
        for e in latest.values()
        if not isinstance(e.payload, EventVoided) and not withdrawn(e.event_id)
    ]


def episodes_from_events(live: Iterable[EventEnvelope]) -> list[AnyEpisode]:
    """Fold live events (see ``live_events``) into episodes."""
    grouped: dict[tuple[EpisodeKind, str, str], list[EventEnvelope]] = defaultdict(list)
    for event in live:
        kind = episode_kind(event)
        if kind is not None:
            grouped[(kind, event.episode_id, event.child_id)].append(event)
    folded = (fold(key[0], group) for key, group in sorted(grouped.items()))
    return [episode for episode in folded if episode is not None]


def recording_counts(live: Iterable[EventEnvelope]) -> list[RecordingCount]:
    """RECORDING-LAG's counts: a connector's events say nothing of when they were recorded."""
    counts = Counter(
        (e.child_id, e.team, e.occurred_on, e.recorded_on) for e in live if e.source_dataset is None
    )
    return [
        RecordingCount(team, occurred, recorded, count, child_id)
        for (child_id, team, occurred, recorded), count in sorted(counts.items())
    ]


def casebook_from_events(events: Iterable[EventEnvelope]) -> CaseBook:
    live = live_events(events)
    return CaseBook(episodes_from_events(live), recording_counts(live))
