"""Every episode the council holds, indexed the ways the KPI rules look them up."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import TypeVar

from kpi.domain.calendar import WorkingDayCalendar
from kpi.domain.episodes import AnyEpisode, Episode

E = TypeVar("E", bound=Episode)


@dataclass(frozen=True, slots=True)
class RecordingCount:
    """How many events a team recorded on a day that had happened on another (RECORDING-LAG)."""

    team: str
    occurred_on: date
    recorded_on: date
    count: int


class CaseBook:
    def __init__(
        self, episodes: Iterable[AnyEpisode], recordings: Iterable[RecordingCount] = ()
    ) -> None:
        self.recordings = tuple(recordings)
        self._by_kind: dict[str, list[AnyEpisode]] = defaultdict(list)
        self._by_child: dict[tuple[str, str], list[AnyEpisode]] = defaultdict(list)
        self._by_id: dict[tuple[str, str, str], AnyEpisode] = {}
        for episode in episodes:
            self._by_kind[episode.kind].append(episode)
            self._by_child[(episode.kind, episode.child_id)].append(episode)
            self._by_id[(episode.kind, episode.child_id, episode.episode_id)] = episode

    def all(self, kind: str, model: type[E]) -> list[E]:
        return [e for e in self._by_kind.get(kind, ()) if isinstance(e, model)]

    def of_child(self, kind: str, child_id: str, model: type[E]) -> list[E]:
        return [e for e in self._by_child.get((kind, child_id), ()) if isinstance(e, model)]

    def get(self, kind: str, child_id: str, episode_id: str | None, model: type[E]) -> E | None:
        if episode_id is None:
            return None
        found = self._by_id.get((kind, child_id, episode_id))
        return found if isinstance(found, model) else None

    def children(self) -> set[str]:
        return {child for (_, child) in self._by_child}


@dataclass(frozen=True)
class RuleSettings:
    """The council's choices that change how a rule counts (catalogue [LOCAL] and [SG] settings)."""

    cp_visit_standard_working_days: int = 10
    due_soon_working_days: int = 5
    # REF-DECISION: 24 hours [BOARD], or 1 working day [SG]
    referral_decision_basis: str = "hours"
    # SSDA903 REC codes that mean the child went home (RETURN-12M cohort)
    return_home_reasons: tuple[str, ...] = ("E13",)
    population_0_to_17: int | None = None
    small_number_threshold: int = 5


@dataclass(frozen=True)
class RuleContext:
    as_at: date
    calendar: WorkingDayCalendar
    settings: RuleSettings = field(default_factory=RuleSettings)
