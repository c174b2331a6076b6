"""Events a connector would post, and what to post so that casetime holds exactly them.

A connector derives a child's events afresh from all the child's rows each time (a pure
function of the rows), and compares them with what it posted before: a new event is posted at
revision 1, a changed one at the next revision, one no longer derived is voided, and one that
comes back after a void has its void voided (casetime then restores it). So importing the same
file twice posts nothing, and a later return corrects an earlier one."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from typing import Any

from casetime.events import DEFAULT_EPISODE_IDS, LONDON, SourceDataset


@dataclass(frozen=True)
class Draft:
    event_id: str
    event_type: str
    child_id: str
    episode_id: str
    occurred_at: str  # ISO date or date-time
    recorded_at: str  # ISO date-time, London
    team: str
    payload: Mapping[str, Any] = field(default_factory=dict)
    worker_id: str | None = None
    source_dataset: str | None = None

    def digest(self) -> str:
        body = {k: v for k, v in self.body(1).items() if k != "revision"}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()

    def body(self, revision: int) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "revision": revision,
            "event_type": self.event_type,
            "occurred_at": self.occurred_at,
            "recorded_at": self.recorded_at,
            "child_id": self.child_id,
            "episode_id": self.episode_id,
            "team": self.team,
            "source_system": "connector",  # the source key's name replaces it at ingest
            "payload": dict(self.payload),
        } | (
            ({"worker_id": self.worker_id} if self.worker_id else {})
            | ({"source_dataset": self.source_dataset} if self.source_dataset else {})
        )


def year_end(day: date) -> date:
    """The 31 March that ends the collection year holding ``day``."""
    return date(day.year if day.month <= 3 else day.year + 1, 3, 31)


def end_of_day(day: date) -> str:
    """When a return or table gives only the day something was recorded by."""
    return datetime.combine(day, time(23, 59, 59), LONDON).isoformat()


@dataclass(frozen=True)
class Posted:
    """What the connector last posted under an event id."""

    event_id: str
    child_id: str
    revision: int
    digest: str
    event_type: str
    episode_id: str
    team: str
    occurred_at: str
    voided: bool = False
    voids: int = 0  # how many times it has been voided (each void needs an id of its own)


@dataclass
class Plan:
    bodies: list[dict[str, Any]] = field(default_factory=list)
    records: list[Posted] = field(default_factory=list)
    unchanged: int = 0
    voided: int = 0


def _void(posted: Posted, target: str, target_type: str, event_id: str, now: str) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "revision": 1,
        "event_type": "event_voided",
        "occurred_at": posted.occurred_at,
        "recorded_at": now,
        "child_id": posted.child_id,
        "episode_id": posted.episode_id,
        "team": posted.team,
        "source_system": "connector",
        "payload": {"voided_event_id": target, "voided_event_type": target_type},
    }


def void_id(posted: Posted, generation: int) -> str:
    return f"void.{generation}.{posted.event_id}"


def plan(posted: Mapping[str, Posted], drafts: Iterable[Draft], now: datetime) -> Plan:
    """What to post for children whose events are ``drafts`` (all of them), given what was
    posted for those children before (``posted``)."""
    stamp = now.astimezone(LONDON).isoformat()
    out = Plan()
    seen: set[str] = set()
    for draft in drafts:
        seen.add(draft.event_id)
        digest, held = draft.digest(), posted.get(draft.event_id)
        if held is not None and held.voided:
            # withdraw the void first: casetime restores the event, then takes any new revision
            void = void_id(held, held.voids)
            out.bodies.append(_void(held, void, "event_voided", f"un{void}", stamp))
            held = replace(held, voided=False)
            if held.digest == digest:
                out.records.append(held)
                continue
        if held is not None and held.digest == digest:
            out.unchanged += 1
            continue
        revision = 1 if held is None else held.revision + 1
        out.bodies.append(draft.body(revision))
        out.records.append(_record(draft, revision, digest, held))
    for held in posted.values():
        if held.event_id in seen or held.voided:
            continue
        generation = held.voids + 1
        void = void_id(held, generation)
        out.bodies.append(_void(held, held.event_id, held.event_type, void, stamp))
        out.records.append(replace(held, voided=True, voids=generation))
        out.voided += 1
    return out


def _record(draft: Draft, revision: int, digest: str, held: Posted | None) -> Posted:
    return Posted(
        event_id=draft.event_id,
        child_id=draft.child_id,
        revision=revision,
        digest=digest,
        event_type=draft.event_type,
        episode_id=draft.episode_id,
        team=draft.team,
        occurred_at=draft.occurred_at,
        voids=0 if held is None else held.voids,
    )


# episode ids every child has one of (casetime.events.DEFAULT_EPISODE_IDS)
PER_CHILD = frozenset(DEFAULT_EPISODE_IDS.values())
# What casetime is told each source is, so that KPIs it cannot feed show no data, not 0%.
SOURCE_DATASETS = {
    "cin": SourceDataset.CIN_CENSUS,
    "903": SourceDataset.SSDA903,
    "ssd": SourceDataset.SSD,
}

# the ingest services' default earliest event date (CASETIME_EARLIEST_EVENT_DATE)
EARLIEST = date(1990, 1, 1)


@dataclass
class ChildEvents:
    """A child's drafts as a derivation builds them, each date checked: nothing before the
    earliest date casetime takes, nothing after the day the source knew of (a date after a
    census's reference date is a mistake in the file, not a fact). A return says when a thing
    happened, not when it was recorded: it was recorded by the end of its collection year (or
    the source's date, if earlier), whichever return it came in, so that every return that
    holds it makes the same event."""

    source: str
    child_id: str
    team: str
    earliest: date = EARLIEST
    drafts: list[Draft] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # location, reason

    def _key(self, episode_id: str) -> str:
        # "child" and "case" are every child's: the child makes the event its own
        return f"{self.child_id}.{episode_id}" if episode_id in PER_CHILD else episode_id

    def add(
        self,
        event_type: str,
        episode_id: str,
        day: str | None,
        known_by: date,
        location: str,
        payload: Mapping[str, Any] | None = None,
        team: str | None = None,
        worker_id: str | None = None,
        event_key: str | None = None,
    ) -> bool:
        """Add the event unless its date is out of bounds (then it is skipped, and why); its
        id is the source, the type and ``event_key`` (default: the episode)."""
        if day is None:
            return False
        when = date.fromisoformat(day[:10])
        if when < self.earliest:
            self.skipped.append((location, f"{event_type} on {day}: before {self.earliest}"))
            return False
        if when > known_by:
            reason = f"{event_type} on {day}: after the source's date {known_by}"
            self.skipped.append((location, reason))
            return False
        clean = {k: v for k, v in (payload or {}).items() if v is not None}
        self.drafts.append(
            Draft(
                event_id=f"{self.source}.{event_type}.{event_key or self._key(episode_id)}",
                event_type=event_type,
                child_id=self.child_id,
                episode_id=episode_id,
                occurred_at=day,
                recorded_at=end_of_day(min(year_end(when), known_by)),
                team=team or self.team,
                payload=clean,
                worker_id=worker_id,
                source_dataset=SOURCE_DATASETS.get(self.source),
            )
        )
        return True

    def birth_month(self, month: str, known_by: date, location: str) -> None:
        """The child's month of birth, as of its first day: a fact of the child's, known for
        any date after it (not only after the return or poll that said it)."""
        self.add(
            "child_details_recorded",
            "child",
            f"{month}-01",
            known_by,
            location,
            {"birth_month": month},
        )
