"""Every episode the council holds, indexed the ways the KPI rules look them up."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import TypeVar

from casetime.events import SourceDataset, as_start_instant, local_date
from kpi.domain.calendar import WorkingDayCalendar
from kpi.domain.episodes import AnyEpisode, ChildDetails, Episode, PeriodOfCare, Referral

E = TypeVar("E", bound=Episode)


@dataclass(frozen=True, slots=True)
class RecordingCount:
    """How many events a team recorded on a day that had happened on another (RECORDING-LAG)."""

    team: str
    occurred_on: date
    recorded_on: date
    count: int
    child_id: str = ""  # whose events, so that a child's facts carry its own counts


class CaseBook:
    def __init__(
        self, episodes: Iterable[AnyEpisode], recordings: Iterable[RecordingCount] = ()
    ) -> None:
        self.recordings = tuple(recordings)
        self._recordings_of: dict[str, list[RecordingCount]] = defaultdict(list)
        for r in self.recordings:
            self._recordings_of[r.child_id].append(r)
        self._by_kind: dict[str, list[AnyEpisode]] = defaultdict(list)
        self._by_child: dict[tuple[str, str], list[AnyEpisode]] = defaultdict(list)
        self._by_id: dict[tuple[str, str, str], AnyEpisode] = {}
        self._children: dict[str, list[AnyEpisode]] = defaultdict(list)
        self._datasets: set[SourceDataset] = set()
        for episode in episodes:
            if episode.source_dataset is not None:
                self._datasets.add(episode.source_dataset)
            self._children[episode.child_id].append(episode)
            self._by_kind[episode.kind].append(episode)
            self._by_child[(episode.kind, episode.child_id)].append(episode)
            self._by_id[(episode.kind, episode.child_id, episode.episode_id)] = episode

    def episodes(self) -> list[AnyEpisode]:
        return list(self._by_id.values())

    @property
    def datasets(self) -> frozenset[SourceDataset]:
        """The datasets any of its episodes were taken from."""
        return frozenset(self._datasets)

    def without(self, datasets: frozenset[SourceDataset]) -> CaseBook:
        """The book less the episodes taken from these datasets (a KPI they cannot feed)."""
        if not datasets & self._datasets:
            return self
        return CaseBook(
            (e for e in self._by_id.values() if e.source_dataset not in datasets),
            self.recordings,
        )

    def for_child(self, child_id: str) -> CaseBook:
        """The case book of one child, with the recording counts of its events."""
        return CaseBook(
            self._children.get(child_id, ()),
            self._recordings_of.get(child_id, ()),
        )

    def applications(self) -> dict[str, CaseBook]:
        """Each care proceedings application (several children may share one): its
        proceedings and the exceptions recorded against it."""
        found: dict[str, list[AnyEpisode]] = defaultdict(list)
        for episode in self._by_kind.get("care_proceedings", ()):
            found[episode.episode_id].append(episode)
        for episode in self._by_kind.get("exception", ()):
            if episode.episode_id in found:
                found[episode.episode_id].append(episode)
        return {application_id: CaseBook(episodes) for application_id, episodes in found.items()}

    def team_at(self, as_at: date) -> str:
        """The team of the episode with the latest event on or before the as-at date."""
        latest = max(
            (
                (named.on, named.team)
                for episode in self._by_id.values()
                for named in episode.teams
                if named.on <= as_at
            ),
            default=None,
        )
        return latest[1] if latest is not None else ""

    def all(self, kind: str, model: type[E]) -> list[E]:
        return [e for e in self._by_kind.get(kind, ()) if isinstance(e, model)]

    def of_child(self, kind: str, child_id: str, model: type[E]) -> list[E]:
        return [e for e in self._by_child.get((kind, child_id), ()) if isinstance(e, model)]

    def get(self, kind: str, child_id: str, episode_id: str | None, model: type[E]) -> E | None:
        if episode_id is None:
            return None
        found = self._by_id.get((kind, child_id, episode_id))
        return found if isinstance(found, model) else None

    def birth_month(self, child_id: str, as_at: date) -> str | None:
        """The child's month of birth as last recorded on or before the as-at date: on a
        referral, a period of care or the child's details (the details win a tie)."""
        recorded: list[tuple[datetime, int, str]] = []
        for referral in self.of_child("referral", child_id, Referral):
            at = referral.received_at
            if referral.birth_month and at is not None and local_date(at) <= as_at:
                recorded.append((at, 0, referral.birth_month))
        for poc in self.of_child("period_of_care", child_id, PeriodOfCare):
            if poc.birth_month and poc.started_on is not None and poc.started_on <= as_at:
                recorded.append((as_start_instant(poc.started_on), 0, poc.birth_month))
        for details in self.of_child("child_details", child_id, ChildDetails):
            recorded.extend(
                (b.at, 1, b.birth_month) for b in details.birth_months if local_date(b.at) <= as_at
            )
        return max(recorded)[2] if recorded else None

    def children(self) -> set[str]:
        return set(self._children)


@dataclass(frozen=True)
class RuleSettings:
    """The council's choices that change how a rule counts (catalogue [LOCAL] and [SG] settings)."""

    cp_visit_standard_working_days: int = 10
    due_soon_working_days: int = 5
    # hour clocks are due soon within this share of their limit (catalogue section 10.8)
    hour_clock_due_soon_share: float = 0.25
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
