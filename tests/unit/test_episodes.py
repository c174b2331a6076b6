"""Folding events into episodes, and applying events through the CaseRepository port.

The port is played by an in-memory fake written here; it behaves as the PostgreSQL adapter does:
dedupe by (event_id, revision), a higher revision replaces, voids are remembered even for events not
yet seen, and live events exclude voided events and the voids themselves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from casetime.events import EVENT_TYPES, LONDON, EventEnvelope, EventVoided, parse_event
from kpi.domain.episodes import (
    EPISODE_KIND_OF,
    AnyEpisode,
    Assessment,
    CareProceedings,
    Referral,
    TeamOnEvent,
    episode_kind,
    fold,
)
from kpi.service import (
    EpisodeKey,
    KafkaPosition,
    Recorded,
    RecordResult,
    apply_event,
    episode_key,
)

CHILD = "C-1"


def without_team_history(episode: AnyEpisode | None) -> AnyEpisode | None:
    """The episode less its per-event teams, for tests about its other fields."""
    return episode.model_copy(update={"teams": ()}) if episode is not None else None


def _event(
    event_type: str,
    event_id: str,
    occurred_at: str,
    payload: dict[str, Any],
    *,
    episode_id: str = "ASMT-1",
    team: str = "North",
    revision: int = 1,
    recorded_at: str = "2025-03-31T17:00:00Z",
    child_id: str = CHILD,
) -> EventEnvelope:
    """An event through the wire path, as the KPI service receives it."""
    return parse_event(
        json.dumps(
            {
                "event_id": event_id,
                "revision": revision,
                "event_type": event_type,
                "schema_version": 1,
                "occurred_at": occurred_at,
                "recorded_at": recorded_at,
                "source_system": "test",
                "child_id": child_id,
                "episode_id": episode_id,
                "team": team,
                "payload": payload,
            }
        )
    )


def _started(on: str, **kw: Any) -> EventEnvelope:
    return _event("assessment_started", "e-start", on, {"referral_id": "REF-1"}, **kw)


def _completed(on: str, event_id: str = "e-done", **kw: Any) -> EventEnvelope:
    return _event("assessment_completed", event_id, on, {"referral_id": "REF-1"}, **kw)


def _void(event_id: str, voided: EventEnvelope, revision: int = 1) -> EventEnvelope:
    return _event(
        "event_voided",
        event_id,
        "2025-03-01",
        {"voided_event_id": voided.event_id, "voided_event_type": voided.event_type},
        episode_id=voided.episode_id,
        revision=revision,
    )


ASSESSMENT_KEY: EpisodeKey = ("assessment", "ASMT-1", CHILD)


# --- fold -----------------------------------------------------------------------------------

_ASSESSMENT_EVENTS = (
    _event(
        "assessment_started",
        "e-1",
        "2025-01-08",
        {"referral_id": "REF-1"},
        team="Front Door",
        recorded_at="2025-01-08T17:00:00Z",
    ),
    _event(
        "assessment_completed",
        "e-2",
        "2025-02-28T16:00:00Z",
        {"referral_id": "REF-1"},
        team="Assessment North",
        recorded_at="2025-03-03T09:00:00Z",
    ),
)

_PROCEEDINGS_EVENTS = (
    _event("care_proceedings_issued", "p-1", "2025-02-20", {}, episode_id="PROC-1"),
    _event(
        "care_proceedings_extension_granted",
        "p-2",
        "2025-08-14",
        {"weeks": 8, "reason": "expert_assessment"},
        episode_id="PROC-1",
    ),
    _event(
        "care_proceedings_extension_granted",
        "p-3",
        "2025-10-02",
        {"weeks": 4, "reason": "court_listing"},
        episode_id="PROC-1",
    ),
    # Two events on the last day: the one recorded later is the latest, whatever the arrival.
    _event(
        "care_proceedings_concluded",
        "p-4",
        "2025-10-30",
        {"final_order": "care_order"},
        episode_id="PROC-1",
        team="Court Team A",
        recorded_at="2025-10-30T17:00:00Z",
    ),
    _event(
        "care_proceedings_concluded",
        "p-5",
        "2025-10-30",
        {"final_order": "sgo"},
        episode_id="PROC-1",
        team="Court Team B",
        recorded_at="2025-10-31T09:00:00Z",
    ),
)


@given(st.permutations(_ASSESSMENT_EVENTS))
def test_assessment_fold_is_the_same_in_any_arrival_order(
    events: Sequence[EventEnvelope],
) -> None:
    # Started 8 Jan, authorised 28 Feb 2025; the team is the one on the latest event in event
    # time (the authorisation), not the one that arrived last, and each event's team is kept in
    # event-time order.
    folded = fold("assessment", events)
    assert folded == Assessment(
        episode_id="ASMT-1",
        child_id=CHILD,
        team="Assessment North",
        teams=(
            TeamOnEvent(on=date(2025, 1, 8), event_type="assessment_started", team="Front Door"),
            TeamOnEvent(
                on=date(2025, 2, 28), event_type="assessment_completed", team="Assessment North"
            ),
        ),
        referral_id="REF-1",
        started_on=date(2025, 1, 8),
        authorised_on=date(2025, 2, 28),
    )
    assert folded.team_at(date(2025, 2, 27)) == "Front Door"
    assert folded.team_at(date(2025, 2, 28)) == "Assessment North"
    assert folded.team_of("assessment_started") == "Front Door"


@given(st.permutations(_PROCEEDINGS_EVENTS))
def test_care_proceedings_fold_is_the_same_in_any_arrival_order(
    events: Sequence[EventEnvelope],
) -> None:
    # Extensions add up: 8 + 4 = 12 weeks. Both conclusions fall on 30 Oct; the one recorded
    # later (p-5, SGO, Court Team B) is the latest in event time.
    assert without_team_history(fold("care_proceedings", events)) == CareProceedings(
        episode_id="PROC-1",
        child_id=CHILD,
        team="Court Team B",
        issued_on=date(2025, 2, 20),
        concluded_on=date(2025, 10, 30),
        extension_weeks=12,
        final_order="sgo",
    )


def test_fold_of_no_events_is_no_episode() -> None:
    assert fold("assessment", []) is None


def test_fold_uses_the_date_in_england_not_utc() -> None:
    # 23:30 UTC on Mon 30 Jun 2025 is 00:30 BST on Tue 1 Jul 2025.
    episode = fold("assessment", [_completed("2025-06-30T23:30:00Z")])
    assert isinstance(episode, Assessment)
    assert episode.authorised_on == date(2025, 7, 1)


def test_referral_received_on_a_date_only_counts_from_midnight_in_london() -> None:
    received = _event(
        "referral_received", "r-1", "2025-07-01", {"referral_source": "1A"}, episode_id="REF-1"
    )
    episode = fold("referral", [received])
    assert isinstance(episode, Referral)
    # Midnight BST on 1 Jul 2025 is 23:00 UTC on 30 Jun; the referral date stays 1 Jul.
    assert episode.received_at == datetime(2025, 7, 1, tzinfo=LONDON)
    assert episode.opened_on == date(2025, 7, 1)


def test_a_void_belongs_to_the_episode_kind_of_the_event_it_voids() -> None:
    void = _void("v-1", _completed("2025-02-28"))
    assert episode_kind(void) == "assessment"
    assert episode_key(void) == ASSESSMENT_KEY


def test_every_event_type_but_a_void_names_an_episode_kind() -> None:
    # every event type feeds a KPI, an open clock or a data-quality check
    assert set(EPISODE_KIND_OF) == set(EVENT_TYPES) - {"event_voided"}


# --- the fake repository --------------------------------------------------------------------


class FakeCaseRepository:
    """The CaseRepository port in memory, with what a test needs to look at."""

    def __init__(self) -> None:
        self.events: dict[str, EventEnvelope] = {}  # event id -> the revision held
        self.voided_by: dict[str, str] = {}  # voided event id -> void event id
        self.episodes: dict[EpisodeKey, AnyEpisode] = {}
        self.saved: list[EpisodeKey] = []  # every save_episode call, in order

    async def record_event(
        self, event: EventEnvelope, position: KafkaPosition | None
    ) -> RecordResult:
        held = self.events.get(event.event_id)
        if held is None:
            self.events[event.event_id] = event
            return RecordResult(Recorded.NEW)
        if event.revision == held.revision:
            return RecordResult(Recorded.DUPLICATE)
        if event.revision < held.revision:
            return RecordResult(Recorded.STALE)
        self.events[event.event_id] = event
        return RecordResult(Recorded.REPLACED, previous=held)

    async def insert_new(
        self, items: Sequence[tuple[EventEnvelope, KafkaPosition | None]]
    ) -> set[str]:
        new = {event.event_id: event for event, _ in items if event.event_id not in self.events}
        self.events.update(new)
        return set(new)

    async def void_event(self, voided_event_id: str, void_event_id: str) -> EventEnvelope | None:
        self.voided_by.setdefault(voided_event_id, void_event_id)
        return self.events.get(voided_event_id)

    async def unvoid_event(self, voided_event_id: str) -> EventEnvelope | None:
        self.voided_by.pop(voided_event_id, None)
        return self.events.get(voided_event_id)

    async def live_events(self, key: EpisodeKey) -> Sequence[EventEnvelope]:
        return [
            event
            for event in self.events.values()
            if episode_key(event) == key
            and not isinstance(event.payload, EventVoided)
            and event.event_id not in self.voided_by
        ]

    async def live_events_of(
        self, keys: Sequence[EpisodeKey]
    ) -> dict[EpisodeKey, Sequence[EventEnvelope]]:
        return {key: await self.live_events(key) for key in keys}

    async def save_episodes(self, episodes: Mapping[EpisodeKey, AnyEpisode | None]) -> None:
        for key, episode in episodes.items():
            await self.save_episode(key, episode)

    async def save_episode(self, key: EpisodeKey, episode: AnyEpisode | None) -> None:
        self.saved.append(key)
        if episode is None:
            self.episodes.pop(key, None)
        else:
            self.episodes[key] = episode


async def _apply_all(repo: FakeCaseRepository, *events: EventEnvelope) -> list[Recorded]:
    return [await apply_event(repo, event) for event in events]


def _assessment(repo: FakeCaseRepository, key: EpisodeKey = ASSESSMENT_KEY) -> Assessment:
    episode = repo.episodes[key]
    assert isinstance(episode, Assessment)
    return episode


# --- apply_event ----------------------------------------------------------------------------


async def test_new_events_build_the_episode() -> None:
    repo = FakeCaseRepository()
    statuses = await _apply_all(repo, _started("2025-01-08"), _completed("2025-02-28"))
    assert statuses == [Recorded.NEW, Recorded.NEW]
    assert {k: without_team_history(e) for k, e in repo.episodes.items()} == {
        ASSESSMENT_KEY: Assessment(
            episode_id="ASMT-1",
            child_id=CHILD,
            team="North",
            referral_id="REF-1",
            started_on=date(2025, 1, 8),
            authorised_on=date(2025, 2, 28),
        )
    }


async def test_duplicate_event_changes_nothing() -> None:
    repo = FakeCaseRepository()
    await _apply_all(repo, _started("2025-01-08"), _completed("2025-02-28"))
    before, saves = dict(repo.episodes), len(repo.saved)
    # A redelivery with the same (event_id, revision) is ignored even if its body differs.
    statuses = await _apply_all(repo, _completed("2025-02-28"), _completed("2025-01-31"))
    assert statuses == [Recorded.DUPLICATE, Recorded.DUPLICATE]
    assert repo.episodes == before
    assert len(repo.saved) == saves  # not even re-saved
    assert _assessment(repo).authorised_on == date(2025, 2, 28)


async def test_higher_revision_replaces_the_event() -> None:
    repo = FakeCaseRepository()
    await _apply_all(repo, _started("2025-01-08"), _completed("2025-02-28"))
    status = await apply_event(repo, _completed("2025-02-27", revision=2, team="South"))
    assert status is Recorded.REPLACED
    episode = _assessment(repo)
    # The amendment replaced the old authorisation rather than adding a second one.
    assert (episode.authorised_on, episode.team) == (date(2025, 2, 27), "South")
    assert len(await repo.live_events(ASSESSMENT_KEY)) == 2


async def test_amendment_moving_an_event_to_another_episode_refolds_both() -> None:
    repo = FakeCaseRepository()
    await _apply_all(repo, _started("2025-01-08"), _completed("2025-02-28"))
    # Revision 2 says the authorisation belonged to ASMT-2: ASMT-1 loses it, ASMT-2 gains it.
    await apply_event(repo, _completed("2025-02-28", revision=2, episode_id="ASMT-2"))
    assert _assessment(repo).authorised_on is None
    assert _assessment(repo, ("assessment", "ASMT-2", CHILD)).authorised_on == date(2025, 2, 28)


async def test_lower_revision_is_ignored() -> None:
    repo = FakeCaseRepository()
    await _apply_all(repo, _completed("2025-02-27", revision=3))
    saves = len(repo.saved)
    statuses = await _apply_all(
        repo, _completed("2025-02-28", revision=2), _completed("2025-02-26", revision=1)
    )
    assert statuses == [Recorded.STALE, Recorded.STALE]
    assert _assessment(repo).authorised_on == date(2025, 2, 27)
    assert len(repo.saved) == saves


async def test_a_void_removes_the_events_effect_from_the_episode() -> None:
    repo = FakeCaseRepository()
    completed = _completed("2025-02-28")
    await _apply_all(repo, _started("2025-01-08"), completed)
    assert await apply_event(repo, _void("v-1", completed)) is Recorded.NEW
    episode = _assessment(repo)
    # The start stays; the withdrawn authorisation is gone, so the clock is open again.
    assert (episode.started_on, episode.authorised_on) == (date(2025, 1, 8), None)


async def test_voiding_the_only_event_removes_the_episode() -> None:
    repo = FakeCaseRepository()
    completed = _completed("2025-02-28")
    await _apply_all(repo, completed, _void("v-1", completed))
    assert ASSESSMENT_KEY not in repo.episodes
    assert repo.saved[-1] == ASSESSMENT_KEY  # saved as None, i.e. deleted


async def test_a_void_that_arrives_before_its_event_still_voids_it() -> None:
    repo = FakeCaseRepository()
    completed = _completed("2025-02-28")
    # The void comes first: nothing to refold yet.
    assert await apply_event(repo, _void("v-1", completed)) is Recorded.NEW
    assert repo.episodes == {}
    # Then the start, and then the voided authorisation itself, late.
    await _apply_all(repo, _started("2025-01-08"), completed)
    episode = _assessment(repo)
    assert (episode.started_on, episode.authorised_on) == (date(2025, 1, 8), None)


async def test_a_void_before_the_only_event_leaves_no_episode() -> None:
    repo = FakeCaseRepository()
    completed = _completed("2025-02-28")
    await _apply_all(repo, _void("v-1", completed), completed)
    assert repo.episodes == {}


async def test_a_redelivered_void_changes_nothing() -> None:
    repo = FakeCaseRepository()
    completed = _completed("2025-02-28")
    void = _void("v-1", completed)
    await _apply_all(repo, _started("2025-01-08"), completed, void)
    saves = len(repo.saved)
    assert await apply_event(repo, void) is Recorded.DUPLICATE
    assert len(repo.saved) == saves


async def test_an_amended_void_that_withdraws_another_event_restores_the_first() -> None:
    # "A newer version of an event replaces the old one" (catalogue section 2) applies to voids
    # too. v-1 revision 1 withdrew e-done by mistake; revision 2 withdraws e-other instead, so
    # e-done's authorisation (28 Feb) must count again and e-other's (31 Jan) must not.
    repo = FakeCaseRepository()
    done = _completed("2025-02-28")
    other = _completed("2025-01-31", event_id="e-other", episode_id="ASMT-2")
    await _apply_all(repo, _started("2025-01-08"), done, other, _void("v-1", done))
    assert _assessment(repo).authorised_on is None
    assert await apply_event(repo, _void("v-1", other, revision=2)) is Recorded.REPLACED
    assert ("assessment", "ASMT-2", CHILD) not in repo.episodes
    assert _assessment(repo).authorised_on == date(2025, 2, 28)


async def test_a_visit_is_recorded_and_saved_as_its_own_episode() -> None:
    repo = FakeCaseRepository()
    visit = _event(
        "visit_held",
        "vis-1",
        "2025-02-04",
        {"purpose": "child_protection", "child_seen": True, "child_seen_alone": True},
        episode_id="VIS-1",
    )
    assert await apply_event(repo, visit) is Recorded.NEW
    assert "vis-1" in repo.events
    assert repo.saved == [("visit", "VIS-1", "C-1")]
