"""Synthetic case histories for a fictional council: realistic, deterministic and streamed.

``generate`` simulates children arriving at the front door and follows each through contacts,
referrals, strategy discussions, section 47 enquiries, assessments, child in need and child
protection plans, care, placements, pre-proceedings and care proceedings, with durations and
breach rates roughly like England's (KPI catalogue sections 3 and 8). It yields events in the
exact wire form an ingest service accepts, in event-time order, identical for the same seed.

What a run contains:

- ``children_per_year`` new children reach the front door each year (their first contact);
  re-contacts and re-referrals come on top; referrals are about 0.93 of it.
- The council already knows children when the window opens. Children are simulated from
  ``WARMUP_YEARS`` before ``start``; every child with any event from 12 months before ``start``
  comes with their whole history (a case system's backload), so point-in-time KPIs such as
  children looked after for 2.5 years, and look-back KPIs such as returns to care, have their
  cohorts from the first day. Those events are dated before ``start`` and come first (visits
  and core groups only for the last 12 months of it). Nothing dated on or after ``end``
  (exclusive) is sent.
- Some events are recorded late, a few are amended (same event id, revision 2) and a few
  duplicates are recorded and then voided; exception reasons are recorded for part of the
  breaches.
- Ids are pseudonymous (``C-000123``, ``REF-000123-2``), no names; a date of birth only as
  ``birth_month``. Timed events carry their London UTC offset; no timed event falls between
  01:00 and 02:00 local time, the hour the clocks change.

It streams: children are simulated a month of arrivals at a time and their events merged by
time through a heap, so memory holds the pending future of open cases, not the run.

``post_events`` sends a stream to the three ingest services, each event to the service that
owns it, keeping each child's events in order within a service. ``write_jsonl`` and
``read_jsonl`` keep replay files.
"""

from __future__ import annotations

import heapq
import json
import math
import random
from bisect import bisect_right, insort
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import accumulate
from operator import itemgetter
from pathlib import Path
from typing import Any, Final, TypeVar

from casetime.events import LONDON
from kpi.domain.calendar import england_calendar
from kpi.domain.kpis.looked_after import age_on
from kpi.domain.periods import add_months

__all__ = [
    "DEFAULT_TEAMS",
    "SIZES",
    "children_per_year_for",
    "generate",
    "read_jsonl",
    "write_jsonl",
]

# The example council's services and teams (services/kpi/kpi/council.default.yaml).
DEFAULT_TEAMS: Final[Mapping[str, Sequence[str]]] = {
    "Front Door": ("MASH", "Duty and Assessment"),
    "Assessment": ("North Assessment", "South Assessment"),
    "Child Protection": ("Child Protection North", "Child Protection South"),
    "Children in Care": ("Children in Care", "Court Team"),
}

# Named sizes: children_per_year (new children at the front door a year). Referrals are about
# 0.93 of it with re-referrals: "mid-sized" is ~3,300 referrals and ~60,000 events a year;
# "large" about 3% of England; "national" England's ~633,000 referrals and on the order of ten
# million events a year (catalogue section 8).
SIZES: Final[Mapping[str, int]] = {
    "small-team": 400,
    "mid-sized": 3_500,
    "large": 20_000,
    "national": 680_000,
}

WARMUP_YEARS: Final = 5
BACKLOAD_MONTHS: Final = 12


def children_per_year_for(size: str) -> int:
    """children_per_year for a named size (``SIZES``)."""
    try:
        return SIZES[size]
    except KeyError:
        raise ValueError(f"unknown size {size!r}; known: {', '.join(SIZES)}") from None


# --- time: integer minutes, London wall clock ---------------------------------------------
# A key is ordinal_day * 1440 + minute of the day, London local time. Date-only events sit at
# minute 0, as the KPI service orders them (catalogue section 1: a date-only start is 00:00).

DAY: Final = 1440
HOUR: Final = 60
_CLOCK_CHANGE = range(60, 120)

_DAY_TEXT: dict[int, tuple[str, str, str]] = {}


def _offset_text(moment: datetime) -> str:
    offset = moment.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{mins:02d}"


def _day_text(ordinal: int) -> tuple[str, str, str]:
    """(ISO date, UTC offset before 01:00, offset from 02:00) of a London day."""
    found = _DAY_TEXT.get(ordinal)
    if found is None:
        d = date.fromordinal(ordinal)
        early = _offset_text(datetime(d.year, d.month, d.day, 0, 30, tzinfo=LONDON))
        late = _offset_text(datetime(d.year, d.month, d.day, 12, 0, tzinfo=LONDON))
        found = (d.isoformat(), early, late)
        _DAY_TEXT[ordinal] = found
    return found


_CLOCK_TEXT = tuple(f"T{m // 60:02d}:{m % 60:02d}:00" for m in range(DAY))


def _format(key: int, timed: bool) -> str:
    ordinal, minute = divmod(key, DAY)
    iso, early, late = _DAY_TEXT.get(ordinal) or _day_text(ordinal)
    if not timed:
        return iso
    return iso + _CLOCK_TEXT[minute] + (early if minute < 60 else late)


def _clock(key: int) -> int:
    """Move a time in 01:00-02:00 to 02:00-03:00: that hour is missing or doubled when the
    clocks change, and events there would sort differently by instant than by wall clock."""
    return key + HOUR if key % DAY in _CLOCK_CHANGE else key


def _weekday(ordinal: int) -> int:
    return (ordinal - 1) % 7  # date(1, 1, 1) was a Monday


# Days are ordinals here (fast to add); the calendar and the month arithmetic are the KPI
# domain's, so the generator's bank holidays and month ends are the ones the KPIs count.
_CALENDAR = england_calendar()


def _add_working_days(ordinal: int, n: int) -> int:
    """The n-th working day after ``ordinal``."""
    return _CALENDAR.add_working_days(date.fromordinal(ordinal), n).toordinal()


def _working_days_between(a: int, b: int) -> int:
    return _CALENDAR.working_days_between(date.fromordinal(a), date.fromordinal(b))


def _weekday_on_or_after(ordinal: int) -> int:
    wd = _weekday(ordinal)
    return ordinal + (7 - wd) if wd >= 5 else ordinal


def _add_months(ordinal: int, months: int) -> int:
    return add_months(date.fromordinal(ordinal), months).toordinal()


# --- chance -------------------------------------------------------------------------------
# random's randint and choice are slow for the millions of draws of a national run.

_T = TypeVar("_T")
_Plo = tuple[int, int, bool]  # pre-proceedings: start, conclusion, whether proceedings issued


def _between(rng: random.Random, low: int, high: int) -> int:
    """A whole number from low to high inclusive."""
    return low + int(rng.random() * (high - low + 1))


def _below(rng: random.Random, n: int) -> int:
    return int(rng.random() * n)


def _pick(rng: random.Random, options: Sequence[_T]) -> _T:
    return options[int(rng.random() * len(options))]


_CUMULATIVE: dict[tuple[int, ...], tuple[list[int], int]] = {}


def _weighted(rng: random.Random, options: Sequence[_T], weights: tuple[int, ...]) -> _T:
    found = _CUMULATIVE.get(weights)
    if found is None:
        found = _CUMULATIVE[weights] = (list(accumulate(weights)), sum(weights))
    cumulative, total = found
    return options[bisect_right(cumulative, rng.random() * total)]


# --- vocabularies ---------------------------------------------------------------------------

AGES = tuple(range(18))
AGE_WEIGHTS = (10, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 5, 4)

CONTACT_SOURCES = ("police", "school", "health", "family", "self", "local_authority", "other")
CONTACT_SOURCE_WEIGHTS = (30, 20, 15, 10, 3, 12, 10)
# DfE ReferralSource: 6 police, 2A schools, 3A-3F health, 1A-1D individuals, 5A-5D LA services.
REFERRAL_SOURCES = ("6", "2A", "3A", "3B", "3E", "1A", "1C", "5A", "5C", "4", "7", "8", "9")
REFERRAL_SOURCE_WEIGHTS = (29, 20, 4, 3, 6, 6, 1, 8, 4, 2, 5, 8, 4)
ASSESSMENT_FACTORS = ("1A", "2A", "2B", "3A", "3B", "4A", "4B", "6A", "6B", "11A", "18B", "21")
CATEGORIES_OF_NEED = ("N1", "N2", "N3", "N4", "N5", "N6", "N7", "N8")
CATEGORY_WEIGHTS = (65, 3, 3, 8, 14, 1, 1, 5)
PLACEMENT_TYPES = ("U1", "U3", "U4", "U5", "U6", "K2", "P1", "H5", "R2")
PLACEMENT_WEIGHTS = (8, 6, 20, 14, 20, 14, 7, 8, 3)
PLACEMENT_PROVIDERS = ("PR1", "PR2", "PR3", "PR4", "PR5")
PLACE_CHANGE_REASONS = ("CARPL", "ALLEG", "STAND", "APPRR", "CREQB", "CHRQB", "LAREQ", "PLACE")
CLOSURE_NFA_AFTER_ASSESSMENT = "RC7"
CLOSURE_EARLY_HELP = "RC8"
CLOSURE_NO_LONGER_IN_NEED = "RC6"
FINAL_ORDERS = (
    "care_order",
    "placement_order",
    "sgo",
    "supervision_order",
    "child_arrangements_order",
    "no_order",
)
FINAL_ORDER_WEIGHTS = (42, 14, 20, 12, 7, 5)
PROCEEDINGS_REASONS = (
    "late_kinship_or_sgo_assessment",
    "expert_assessment",
    "parental_progress_tested",
    "international_element",
    "parallel_criminal_proceedings",
    "third_party_disclosure_delay",
    "new_party_or_child_joined",
    "court_listing",
    "local_authority_delay",
)
CONFERENCE_REASONS = (
    "child_or_family_unavailable",
    "awaiting_partner_information",
    "chair_agreed_delay",
    "transfer_in",
    "recording_late",
    "other",
)
OTHER_TEXTS = ("interpreter not available", "sibling group assessed together", "worker absence")
PLAN_END_REASONS = ("no_longer_at_risk", "no_longer_at_risk", "moved_area", "step_down")

AMENDABLE: Final = frozenset(
    {"referral_received", "visit_held", "placement_started", "assessment_completed"}
)
DUPLICATED: Final = frozenset({"visit_held", "case_allocated", "core_group_held"})
RECURRING: Final = frozenset({"visit_held", "core_group_held"})

# Chances: the knobs that make the figures look like England's.
P_CONTACT_REFERRAL = 0.62
P_CONTACT_EARLY_HELP = 0.22
P_RECONTACT = 0.18
P_REFERRAL_NFA = 0.06
P_STRATEGY = 0.36
P_SECTION_47 = 0.88
P_ICPC = 0.33
P_PLAN = 0.86
P_CIN_PLAN = 0.30
P_VOLUNTARY_CARE = 0.03
P_REREFERRAL = 0.42
P_LATE_RECORDING = 0.05
P_AMEND = 0.004
P_DUPLICATE_VOIDED = 0.0004
P_EXCEPTION = 0.5


@dataclass(frozen=True, slots=True)
class _Teams:
    contacts: str
    referrals: str
    assessment: tuple[str, ...]
    protection: tuple[str, ...]
    care: tuple[str, ...]
    court: tuple[str, ...]

    @classmethod
    def from_services(cls, services: Mapping[str, Sequence[str]]) -> _Teams:
        """Stages by the services' order: front door, assessment, child protection, children in
        care (its last team the court team when it has two or more). Fewer services: the last
        does the rest."""
        groups = [tuple(teams) for teams in services.values() if teams]
        if not groups:
            raise ValueError("teams: at least one service with one team is needed")
        while len(groups) < 4:
            groups.append(groups[-1])
        front, assessment, protection, care = groups[:4]
        court = care[-1:] if len(care) > 1 else care
        return cls(
            front[0],
            front[1] if len(front) > 1 else front[0],
            assessment,
            protection,
            care[:-1] if len(care) > 1 else care,
            court,
        )

    def all(self) -> list[str]:
        names = [self.contacts, self.referrals, *self.assessment, *self.protection]
        names += [*self.care, *self.court]
        return list(dict.fromkeys(names))


@dataclass(frozen=True, slots=True)
class _Run:
    seed: int
    source_system: str
    teams: _Teams
    workers: Mapping[str, tuple[str, ...]]
    horizon: int  # first ordinal day not generated (end, exclusive)
    end_key: int
    start_key: int
    include_from_key: int  # children who left care from here on come too (RETURN-12M)


# A simulated event before its ids and recording: key, type, timed, episode, payload, team, worker
_Raw = tuple[int, str, bool, str, dict[str, Any], str, str | None]
# A finished event: event id, revision, type, timed, recorded key, child, episode, payload, team,
# worker.
_Done = tuple[str, int, str, bool, int, str, str, dict[str, Any], str, str | None]


class _Child:
    """One child's life as the council sees it, simulated eagerly up to the horizon."""

    def __init__(self, run: _Run, rng: random.Random, number: int, arrival: int) -> None:
        self.run = run
        self.rng = rng
        self.number = number
        self.tag = f"{number:06d}"
        self.child_id = f"C-{self.tag}"
        self.events: list[_Raw] = []
        self.ids = 0
        self.locality = _below(rng, 6)
        age = _weighted(rng, AGES, AGE_WEIGHTS)
        born = date.fromordinal(arrival // DAY)
        month_index = born.year * 12 + born.month - 1 - age * 12 - _below(rng, 12)
        year, month0 = divmod(month_index, 12)
        self.birth_month = f"{year:04d}-{month0 + 1:02d}"
        self.adult_day = date(year + 18, month0 + 1, 1).toordinal()
        self.first_day = arrival // DAY
        self.horizon = min(run.horizon, self.adult_day)
        self.case_id = ""
        self.allocations: list[tuple[int, str]] = []
        self.worker: str | None = None
        self.had_plan = False
        self.left_care = 0

    # --- helpers ---------------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        self.ids += 1
        return f"{prefix}-{self.tag}-{self.ids}"

    def ev(
        self,
        event_type: str,
        key: int,
        episode: str,
        payload: dict[str, Any],
        team: str,
        timed: bool = False,
        worker: str | None = None,
    ) -> None:
        self.events.append((key, event_type, timed, episode, payload, team, worker))

    def on(
        self, day: int, event_type: str, episode: str, payload: dict[str, Any], team: str
    ) -> None:
        """A date-only event."""
        self.events.append((day * DAY, event_type, False, episode, payload, team, None))

    def office_time(self, day: int) -> int:
        return _clock(day * DAY + _between(self.rng, 9 * HOUR, 17 * HOUR + 30))

    def team(self, teams: tuple[str, ...]) -> str:
        return teams[self.locality % len(teams)]

    def age_on(self, day: int) -> int:
        age = age_on(self.birth_month, date.fromordinal(day))
        assert age is not None
        return age

    def worker_on(self, day: int) -> str | None:
        i = bisect_right(self.allocations, (day, "\uffff"))
        return self.allocations[i - 1][1] if i else None

    def allocate(self, day: int, team: str) -> None:
        if day >= self.horizon or not self.case_id:
            return
        pool = self.run.workers[team]
        current = self.worker_on(day)
        worker = _pick(self.rng, pool)
        if worker == current and len(pool) > 1:
            worker = pool[(pool.index(worker) + 1) % len(pool)]
        insort(self.allocations, (day, worker))
        self.ev("case_allocated", self.office_time(day), self.case_id, {}, team, True, worker)

    def reallocate(self, start: int, end: int, team: str, chance: float = 0.33) -> None:
        """Social workers leave: each half year of a long episode may bring a new one."""
        day = start + 182
        while day < min(end, self.horizon):
            if self.rng.random() < chance:
                self.allocate(day - _between(self.rng, 0, 150), team)
            day += 182

    def exception(
        self, day: int, episode: str, kpi: str, reasons: Sequence[str], team: str
    ) -> None:
        if self.rng.random() >= P_EXCEPTION:
            return
        reason = _pick(self.rng, reasons)
        payload: dict[str, Any] = {"kpi": kpi, "reason": reason}
        if reason == "other":
            payload["other_text"] = _pick(self.rng, OTHER_TEXTS)
        self.on(
            day + _between(self.rng, 0, 10), "exception_reason_recorded", episode, payload, team
        )

    def visits(
        self,
        purpose: str,
        serves: str,
        start: int,
        end: int,
        team: str,
        gap: Callable[[int, int], int],
    ) -> None:
        """Visits from ``start`` until ``end``, each ``gap(previous, count)`` days after the
        previous one."""
        rand = self.rng.random
        append = self.events.append
        tag = self.tag
        stop = min(end, self.horizon)
        day = start
        count = 0
        old_enough = self.age_on(start) >= 3
        while True:
            day += gap(day, count)
            if day >= stop:
                return
            count += 1
            seen = rand() < 0.95
            key = day * DAY + 9 * HOUR + int(rand() * 600)  # 09:00 to 19:00
            payload = {
                "purpose": purpose,
                "child_seen": seen,
                "child_seen_alone": seen and old_enough and rand() < 0.75,
                "serves_episode_id": serves,
            }
            self.ids += 1
            visit = f"VIS-{tag}-{self.ids}"
            append((key, "visit_held", True, visit, payload, team, self.worker_on(day)))

    # --- the life -------------------------------------------------------------------------

    def live(self, arrival: int) -> None:
        key: int | None = arrival
        into_care = False
        while key is not None and key // DAY < self.horizon:
            key, into_care = self.front_door(key, into_care)

    def front_door(self, key: int, into_care: bool) -> tuple[int | None, bool]:
        rng = self.rng
        teams = self.run.teams
        contact = self.new_id("CON")
        source = _weighted(rng, CONTACT_SOURCES, CONTACT_SOURCE_WEIGHTS)
        self.ev("contact_received", key, contact, {"contact_source": source}, teams.contacts, True)
        r = rng.random()
        if r < 0.5:
            delay = _between(rng, HOUR, 24 * HOUR)
        elif r < 0.92:
            delay = _between(rng, 24 * HOUR, 71 * HOUR)
        else:
            delay = _between(rng, 73 * HOUR, 240 * HOUR)
        decided = _clock(key + delay)
        if delay > 72 * HOUR:
            self.exception(
                decided // DAY, contact, "CONTACT-72H", CONFERENCE_REASONS, teams.contacts
            )
        r = rng.random()
        if not into_care and r >= P_CONTACT_REFERRAL:
            outcome = (
                "early_help"
                if r < P_CONTACT_REFERRAL + P_CONTACT_EARLY_HELP
                else ("no_further_action")
            )
            self.ev(
                "contact_decision", decided, contact, {"outcome": outcome}, teams.contacts, True
            )
            if rng.random() < P_RECONTACT:
                return self.contact_time(decided // DAY + _between(rng, 14, 400)), False
            return None, False
        referral = self.new_id("REF")
        payload = {"outcome": "progressed_to_referral", "referral_id": referral}
        self.ev("contact_decision", decided, contact, payload, teams.contacts, True)
        closed, returned_home = self.referral(
            referral, _clock(decided + _between(rng, 1, 25)), into_care
        )
        if closed is None:
            return None, False
        if returned_home is not None and rng.random() < 0.24:
            # back into care: a new referral within the year after going home
            back = max(closed + 7, returned_home + _between(rng, 30, 330))
            return self.contact_time(back), True
        chance = P_REREFERRAL + (0.15 if self.had_plan else 0.0)
        if rng.random() < chance:
            return self.contact_time(closed + 7 + int(rng.expovariate(1 / 110))), False
        return None, False

    def contact_time(self, day: int) -> int:
        rng = self.rng
        if rng.random() < 0.8:
            day = _weekday_on_or_after(day)
            return _clock(day * DAY + _between(rng, 8 * HOUR + 30, 18 * HOUR))
        return _clock(day * DAY + _below(rng, DAY))

    def referral(self, referral: str, key: int, into_care: bool) -> tuple[int | None, int | None]:
        """The referral and all that follows it. Returns the day the case closed (None when it
        is still open at the horizon) and the day the child went home from care, if they did."""
        self.case_id = referral
        self._receive_referral(referral, key)
        decided, nfa, strategy = self._decide_referral(referral, key, into_care)
        if nfa:
            closed = decided // DAY + _between(self.rng, 0, 3)
            return self.close(closed, CLOSURE_EARLY_HELP, self.run.teams.referrals), None
        return self._after_the_decision(referral, key, strategy, into_care)

    def _receive_referral(self, referral: str, key: int) -> None:
        rng = self.rng
        teams = self.run.teams
        day = key // DAY
        payload: dict[str, Any] = {
            "referral_source": _weighted(rng, REFERRAL_SOURCES, REFERRAL_SOURCE_WEIGHTS)
        }
        stated = rng.random() < 0.95
        if stated:
            payload["birth_month"] = self.birth_month
        self.ev("referral_received", key, referral, payload, teams.referrals, True)
        if not stated:
            # the month of birth is recorded on the child's details a few days later
            details = {"birth_month": self.birth_month}
            self.on(
                day + _between(rng, 1, 10),
                "child_details_recorded",
                self.new_id("DET"),
                details,
                teams.referrals,
            )

    def _decide_referral(self, referral: str, key: int, into_care: bool) -> tuple[int, bool, bool]:
        """The decision's time, whether it was no further action, whether a strategy
        discussion follows."""
        rng = self.rng
        if rng.random() < 0.88:
            decided = _clock(key + _between(rng, 30, 23 * HOUR + 30))
        else:
            decided = _clock(key + _between(rng, 24 * HOUR + 30, 96 * HOUR))
        nfa = not into_care and rng.random() < P_REFERRAL_NFA
        # a child who has been on a plan is more often back in child protection
        strategy = (
            not nfa and not into_care and rng.random() < (0.6 if self.had_plan else P_STRATEGY)
        )
        next_steps = (
            "no_further_action" if nfa else ("strategy_discussion" if strategy else "assessment")
        )
        self.ev(
            "referral_decision",
            decided,
            referral,
            {"no_further_action": nfa, "next_steps": next_steps},
            self.run.teams.referrals,
            True,
        )
        return decided, nfa, strategy

    def _after_the_decision(
        self, referral: str, key: int, strategy: bool, into_care: bool
    ) -> tuple[int | None, int | None]:
        """Assessment, child protection, care or a child in need plan, and the closure."""
        rng = self.rng
        day = key // DAY
        assessment_team = self.team(self.run.teams.assessment)
        icpc: tuple[str, int] | None = None  # (id, day) of an ICPC that made a plan
        emergency: int | None = None  # day of emergency proceedings
        started = _add_working_days(day, _pick(rng, (0, 0, 1, 1, 2, 3)))
        if strategy:
            strategy_day, icpc, emergency = self.child_protection_enquiry(referral, key)
            started = strategy_day
        self.allocate(started, assessment_team)
        completed = self.assessment(referral, day, started, assessment_team)

        care_day: int | None = None
        if emergency is not None:
            care_day = emergency
        elif into_care:
            care_day = day + _between(rng, 0, 14)
        elif icpc is None and rng.random() < P_VOLUNTARY_CARE:
            care_day = started + _between(rng, 3, 40)

        if icpc is not None and care_day is None:
            return self.protection_plan(icpc[0], icpc[1])
        if care_day is not None:
            proceedings = emergency is not None
            return self.care_and_after(care_day, proceedings=proceedings)
        if rng.random() < P_CIN_PLAN:
            end = self.cin_plan(completed + _between(rng, 0, 10), assessment_team)
            return self.close(end, CLOSURE_NO_LONGER_IN_NEED, assessment_team), None
        reason = CLOSURE_NFA_AFTER_ASSESSMENT if rng.random() < 0.6 else CLOSURE_EARLY_HELP
        return self.close(completed + _between(rng, 0, 10), reason, assessment_team), None

    def close(self, day: int, reason: str, team: str) -> int | None:
        if day >= self.horizon:
            return None
        self.on(day, "case_closed", self.case_id, {"reason_for_closure": reason}, team)
        return day

    def assessment(self, referral: str, referred: int, started: int, team: str) -> int:
        rng = self.rng
        assessment = self.new_id("ASMT")
        self.on(started, "assessment_started", assessment, {"referral_id": referral}, team)
        if rng.random() < 0.86:
            duration = int(rng.triangular(4, 45, 38))
        else:
            duration = min(46 + int(rng.expovariate(1 / 14)), 130)
        completed = _add_working_days(started, duration)
        factors = sorted({_pick(rng, ASSESSMENT_FACTORS) for _ in range(_between(rng, 1, 3))})
        payload = {"referral_id": referral, "factors": factors}
        self.on(completed, "assessment_completed", assessment, payload, team)
        if _working_days_between(referred, completed) > 45:
            self.exception(completed, assessment, "ASMT-45WD", CONFERENCE_REASONS, team)
        return completed

    def child_protection_enquiry(
        self, referral: str, referred_key: int
    ) -> tuple[int, tuple[str, int] | None, int | None]:
        """Strategy discussion, section 47 and ICPC. Returns the strategy discussion's day, the
        ICPC that made a plan and the day of emergency proceedings, if any."""
        strategy, held, initiated = self._strategy_discussions(referral, referred_key)
        held_day = held // DAY
        if not initiated:
            return held_day, None, None
        icpc, emergency = self._section_47(referral, strategy, held_day)
        return held_day, icpc, emergency

    def _strategy_discussions(self, referral: str, referred_key: int) -> tuple[str, int, bool]:
        """The strategy discussion (and now and then a follow-up): its id, time and whether it
        initiated a section 47."""
        rng = self.rng
        teams = self.run.teams
        if rng.random() < 0.85:
            held = _clock(referred_key + _between(rng, 2 * HOUR, 47 * HOUR))
        else:
            held = _clock(referred_key + _between(rng, 49 * HOUR, 200 * HOUR))
        strategy = self.new_id("STRAT")
        agencies = ["police", "health", "education"]
        if rng.random() >= 0.8:
            agencies.remove(_pick(rng, ("health", "education", "education", "police")))
        if rng.random() < 0.3:
            agencies.append("other")
        initiated = rng.random() < P_SECTION_47
        payload = {
            "referral_id": referral,
            "agencies_attended": agencies,
            "initiated_section_47": initiated,
        }
        self.ev("strategy_discussion_held", held, strategy, payload, teams.referrals, True)
        if rng.random() < 0.08:  # a follow-up discussion
            again = _clock(held + _between(rng, 2, 8) * DAY)
            payload = {
                "referral_id": referral,
                "agencies_attended": ["police", "health", "education"],
                "initiated_section_47": False,
            }
            self.ev(
                "strategy_discussion_held", again, self.new_id("STRAT"), payload,
                teams.referrals, True,
            )  # fmt: skip
        return strategy, held, initiated

    def _section_47(
        self, referral: str, strategy: str, held_day: int
    ) -> tuple[tuple[str, int] | None, int | None]:
        """The section 47 and its ICPC: the ICPC that made a plan, the day of emergency
        proceedings."""
        rng = self.rng
        teams = self.run.teams
        team = self.team(teams.assessment)
        section_47 = self.new_id("S47")
        payload = {"referral_id": referral, "strategy_discussion_id": strategy}
        self.on(held_day, "section_47_started", section_47, payload, team)
        emergency = held_day + _between(rng, 1, 10) if rng.random() < 0.035 else None
        if rng.random() >= (0.6 if self.had_plan else P_ICPC):
            done = _add_working_days(held_day, _between(rng, 3, 20))
            self.on(
                done, "section_47_completed", section_47, {"outcome": "icpc_not_required"}, team
            )
            return None, emergency
        in_time = rng.random() < 0.81
        wait = _between(rng, 6, 15) if in_time else _between(rng, 16, 35)
        icpc_day = _add_working_days(held_day, wait)
        done = _add_working_days(held_day, _between(rng, 3, wait - 1))
        self.on(done, "section_47_completed", section_47, {"outcome": "icpc_required"}, team)
        icpc = self.new_id("ICPC")
        plan = emergency is None and rng.random() < P_PLAN
        conference: dict[str, Any] = {
            "section_47_id": section_47,
            "strategy_discussion_id": strategy,
            "child_protection_plan": plan,
        }
        protection_team = self.team(teams.protection)
        self.on(icpc_day, "initial_cp_conference_held", icpc, conference, protection_team)
        if not in_time:
            self.exception(icpc_day, icpc, "ICPC-15WD", CONFERENCE_REASONS, protection_team)
        return ((icpc, icpc_day) if plan else None), emergency

    def protection_plan(self, icpc: str, icpc_day: int) -> tuple[int | None, int | None]:
        rng = self.rng
        teams = self.run.teams
        team = self.team(teams.protection)
        plan = self.new_id("CPP")
        self.on(icpc_day, "cp_plan_started", plan, {"initial_conference_id": icpc}, team)
        self.had_plan = True
        self.allocate(icpc_day + _between(rng, 0, 5), team)
        reviews_wanted, plo, care_day, proceedings = self._plan_course(icpc_day)
        reviews = self._review_days(icpc_day, reviews_wanted, plo)
        natural_end = reviews[-1][0]
        end = min(natural_end, care_day) if care_day is not None else natural_end
        ended_by_review = end == natural_end and (care_day is None or care_day > natural_end)
        if end >= self.adult_day:
            end, ended_by_review = max(self.adult_day - 1, icpc_day), False
        for held, in_time in reviews:
            if held > end or (held == end and not ended_by_review):
                break
            last = held == end
            payload = {"child_protection_plan_id": plan, "plan_continues": not last}
            self.on(held, "review_cp_conference_held", self.new_id("RCPC"), payload, team)
            if not in_time:
                self.exception(held, plan, "RCPC-TIMELY", CONFERENCE_REASONS, team)
        self._core_groups(plan, icpc_day, end, team)
        self.reallocate(icpc_day, end, team)

        def cp_gap(day: int, count: int) -> int:
            r = rng.random()
            n = _between(rng, 4, 10) if r < 0.9 else _between(rng, 11, 14) if r < 0.98 else 20
            return _add_working_days(day, n) - day

        self.visits("child_protection", plan, icpc_day, end, team, cp_gap)
        if plo is not None:
            self.pre_proceedings(*plo)
        reason = (
            "looked_after"
            if care_day is not None and end == care_day
            else (_pick(rng, PLAN_END_REASONS) if end < self.adult_day - 1 else "child_18")
        )
        self.on(end, "cp_plan_ended", plan, {"reason": reason}, team)
        if care_day is not None and care_day == end:
            return self.care_and_after(care_day, proceedings=proceedings)
        if rng.random() < 0.55:
            cin_end = self.cin_plan(end + _between(rng, 0, 5), team)
            return self.close(cin_end, CLOSURE_NO_LONGER_IN_NEED, team), None
        return self.close(end + _between(rng, 0, 14), CLOSURE_NO_LONGER_IN_NEED, team), None

    def _plan_course(
        self, icpc_day: int
    ) -> tuple[int, tuple[int, int, bool] | None, int | None, bool]:
        """How many review conferences until the plan ends (the last one ends it), and any
        pre-proceedings or care while on it: (reviews, PLO, care day, proceedings)."""
        rng = self.rng
        r = rng.random()
        reviews_wanted = (
            1 if r < 0.28 else 2 if r < 0.63 else 3 if r < 0.83 else 4 if r < 0.95 else 5
        )
        # pre-proceedings or care, while on the plan
        plo: tuple[int, int, bool] | None = None  # start, conclusion, issued
        care_day: int | None = None
        proceedings = False
        r = rng.random()
        if r < 0.17:
            plo_start = icpc_day + _between(rng, 30, 150)
            weeks = _between(rng, 8, 16) if rng.random() < 0.58 else _between(rng, 17, 30)
            plo_end = plo_start + weeks * 7 - _between(rng, 0, 6)
            issued = rng.random() < 0.45
            plo = (plo_start, plo_end, issued)
            if issued:
                care_day = plo_end + _between(rng, 3, 21)
                proceedings = True
        elif r < 0.21:
            care_day = icpc_day + _between(rng, 10, 300)
            proceedings = rng.random() < 0.5
        return reviews_wanted, plo, care_day, proceedings

    def _review_days(
        self, icpc_day: int, reviews_wanted: int, plo: _Plo | None
    ) -> list[tuple[int, bool]]:
        """Each review conference's day and whether it was held in time."""
        rng = self.rng
        reviews: list[tuple[int, bool]] = []  # (day, held in time)
        due = _add_months(icpc_day, 3)
        while True:
            late = rng.random() >= 0.93
            held = due + _between(rng, 1, 40) if late else due - _between(rng, 0, 20)
            held = _weekday_on_or_after(held)
            reviews.append((held, not late))
            covered = plo is None or held > plo[1]
            if len(reviews) >= reviews_wanted and covered:
                break
            due = _add_months(held, 6)
        return reviews

    def _core_groups(self, plan: str, icpc_day: int, end: int, team: str) -> None:
        """The first core group within 10 working days, then every 4 to 6 weeks."""
        rng = self.rng
        first = _between(rng, 3, 10) if rng.random() < 0.88 else _between(rng, 11, 20)
        day = _add_working_days(icpc_day, first)
        while day < min(end, self.horizon):
            payload = {"child_protection_plan_id": plan}
            self.on(day, "core_group_held", self.new_id("CG"), payload, team)
            day = _add_working_days(day, _between(rng, 18, 30))

    def pre_proceedings(self, start: int, end: int, issued: bool) -> None:
        team = self.team(self.run.teams.court)
        plo = self.new_id("PLO")
        self.on(start, "plo_started", plo, {}, team)
        outcome = "issued" if issued else "stepped_down"
        self.on(end, "plo_concluded", plo, {"outcome": outcome}, team)
        if end - start > 112:
            self.exception(end, plo, "PLO-16W", CONFERENCE_REASONS, team)

    def cin_plan(self, start: int, team: str) -> int:
        rng = self.rng
        if start >= self.adult_day - 7:
            return start
        plan = self.new_id("CIN")
        end = min(start + _between(rng, 90, 365), self.adult_day - 1)
        self.on(start, "cin_plan_started", plan, {}, team)

        def cin_gap(day: int, count: int) -> int:
            return _between(rng, 14, 30) if rng.random() < 0.9 else _between(rng, 31, 60)

        self.visits("child_in_need", plan, start, end, team, cin_gap)
        self.on(end, "cin_plan_ended", plan, {}, team)
        return end

    def court(self, issued: int) -> tuple[str, int]:
        """Care proceedings issued on ``issued``: the final order and the day it was made."""
        rng = self.rng
        team = self.team(self.run.teams.court)
        proceedings = self.new_id("PROC")
        year = date.fromordinal(issued).year % 100
        payload = {"court_case_number": f"ZE{year:02d}C{self.number % 100000:05d}"}
        self.on(issued, "care_proceedings_issued", proceedings, payload, team)
        in_time = rng.random() < 0.42
        days = _between(rng, 110, 181) if in_time else 182 + min(int(rng.expovariate(1 / 120)), 500)
        concluded = issued + days
        extended = False
        for j in range(math.ceil(max(days - 181, 0) / 56)):
            if rng.random() < 0.85:
                extended = True
                when = issued + 175 - _between(rng, 0, 14) + 56 * j
                reason = _pick(rng, PROCEEDINGS_REASONS)
                extension: dict[str, Any] = {
                    "weeks": 8 if rng.random() < 0.8 else _between(rng, 2, 7),
                    "reason": reason,
                }
                self.on(when, "care_proceedings_extension_granted", proceedings, extension, team)
        order = _weighted(rng, FINAL_ORDERS, FINAL_ORDER_WEIGHTS)
        self.on(concluded, "care_proceedings_concluded", proceedings, {"final_order": order}, team)
        if not in_time:
            reasons = ("extension_granted",) if extended else PROCEEDINGS_REASONS
            self.exception(concluded, proceedings, "PROC-26W", reasons, team)
        return order, concluded

    def care_and_after(self, entry: int, *, proceedings: bool) -> tuple[int | None, int | None]:
        """Looked after from ``entry``; then home, adoption, special guardianship or adulthood."""
        rng = self.rng
        if entry >= self.adult_day - 30:  # nearly 18: adult services, not care
            team = self.team(self.run.teams.assessment)
            return self.close(entry, "RC5", team), None
        order: str | None = None
        order_day = entry
        if proceedings:
            order, order_day = self.court(entry)
            legal_status = "C1" if rng.random() < 0.8 else "L2"
        elif rng.random() < 0.2:
            order, order_day = self.court(entry + _between(rng, 30, 200))
            legal_status = "V2"
        else:
            legal_status = "V2"
        r = rng.random()
        if order is None:
            if r < 0.62:
                end, reason = entry + _between(rng, 10, 300), "E13"
            elif r < 0.8:
                end, reason = entry + _between(rng, 365, 1500), "E13"
            else:
                end, reason = self.adult_day, "E17"
        elif order == "care_order":
            if r < 0.18:
                end, reason = order_day + _between(rng, 365, 1500), "E13"
            elif r < 0.33:
                end, reason = order_day + _between(rng, 300, 1100), "E45"
            else:
                end, reason = self.adult_day, "E17" if rng.random() < 0.6 else "E5"
        elif order == "placement_order":
            end, reason = order_day + _between(rng, 150, 540), "E11"
        elif order == "sgo":
            end, reason = order_day, "E46" if r < 0.7 else "E45"
        elif order == "child_arrangements_order":
            end, reason = order_day, "E41"
        else:
            end, reason = order_day, "E13"
        if end >= self.adult_day:
            end, reason = self.adult_day, reason if reason in ("E17", "E5") else "E17"
        self.looked_after(entry, end, reason, legal_status)
        self.left_care = end
        team = self.team(self.run.teams.care)
        if end >= self.horizon:
            return None, None
        if reason == "E13":
            if rng.random() < 0.5:
                cin_end = self.cin_plan(end + _between(rng, 0, 5), team)
                return self.close(cin_end, CLOSURE_NO_LONGER_IN_NEED, team), end
            return self.close(end + _between(rng, 0, 30), CLOSURE_NO_LONGER_IN_NEED, team), end
        closure = "RC1" if reason == "E11" else "RC3" if reason in ("E45", "E46", "E41") else "RC5"
        return self.close(end + _between(rng, 0, 20), closure, team), None

    def looked_after(self, start: int, end: int, reason: str, legal_status: str) -> None:
        rng = self.rng
        team = self.team(self.run.teams.care)
        poc = self.new_id("POC")
        payload = {
            "legal_status": legal_status,
            "category_of_need": _weighted(rng, CATEGORIES_OF_NEED, CATEGORY_WEIGHTS),
            "birth_month": self.birth_month,
        }
        self.on(start, "period_of_care_started", poc, payload, team)
        self.allocate(start, team)
        self.reallocate(start, end, team, 0.28)
        stop = min(end, self.horizon)
        self.placements(poc, start, end, team)
        self.care_reviews(poc, start, stop, team)
        self.health_checks(poc, start, stop, team)
        self.on(end, "period_of_care_ended", poc, {"reason_episode_ceased": reason}, team)

    def placements(self, poc: str, start: int, end: int, team: str) -> None:
        rng = self.rng
        day = start
        first = True
        while day < end and day < self.horizon:
            r = rng.random()
            if r < (0.3 if first else 0.15):
                length = _between(rng, 3, 56)
            elif r < (0.55 if first else 0.38):
                length = _between(rng, 57, 365)
            else:
                length = _between(rng, 366, 2500)
            stop = min(day + length, end)
            permanent = length >= 365 and rng.random() < 0.5
            placement = self.new_id("PL")
            payload: dict[str, Any] = {
                "period_of_care_id": poc,
                "placement_type": _weighted(rng, PLACEMENT_TYPES, PLACEMENT_WEIGHTS),
                "placement_provider": _pick(rng, PLACEMENT_PROVIDERS),
                "reason_new_episode": "S" if first else "P",
                "permanent": permanent,
            }
            self.on(day, "placement_started", placement, payload, team)
            self.visits(
                "looked_after", placement, day, stop, team, self.care_visit_gap(day, permanent)
            )
            ended: dict[str, Any] = {}
            if stop < end:
                ended["reason_place_change"] = _pick(rng, PLACE_CHANGE_REASONS)
            self.on(stop, "placement_ended", placement, ended, team)
            day = stop
            first = False

    def care_visit_gap(self, placed: int, permanent: bool) -> Callable[[int, int], int]:
        """Regulation 28: within a week of the placement, then at most 6 weeks apart, or 3
        months apart after the first year of a permanent placement; mostly on time."""
        rng = self.rng

        def gap(visit_day: int, count: int) -> int:
            if count == 0:
                return _between(rng, 1, 7) if rng.random() < 0.9 else _between(rng, 8, 14)
            if visit_day < placed + 365 or not permanent:
                return _between(rng, 20, 42) if rng.random() < 0.93 else _between(rng, 43, 70)
            return _between(rng, 50, 89) if rng.random() < 0.88 else _between(rng, 92, 130)

        return gap

    def care_reviews(self, poc: str, start: int, stop: int, team: str) -> None:
        rng = self.rng
        late = rng.random() >= 0.94
        day = _add_working_days(start, _between(rng, 21, 40) if late else _between(rng, 5, 20))
        count = 0
        while day < stop:
            self.on(
                day,
                "looked_after_review_held",
                self.new_id("LAR"),
                {"period_of_care_id": poc},
                team,
            )
            if late:
                self.exception(day, poc, "CLA-REVIEWS", CONFERENCE_REASONS, team)
            count += 1
            due = _add_months(day, 3 if count == 1 else 6)
            late = rng.random() >= 0.93
            day = due + _between(rng, 1, 40) if late else due - _between(rng, 0, 25)

    def health_checks(self, poc: str, start: int, stop: int, team: str) -> None:
        rng = self.rng
        payload = {"period_of_care_id": poc}
        day = start + _between(rng, 10, 40)
        while day < stop:
            self.on(day, "health_assessment_held", self.new_id("HA"), dict(payload), team)
            due = _add_months(day, 6 if self.age_on(day) < 5 else 12)
            day = due - _between(rng, 0, 40) if rng.random() < 0.88 else due + _between(rng, 5, 100)
        day = start + _between(rng, 30, 200)
        while day < stop:
            self.on(day, "dental_check_held", self.new_id("DC"), dict(payload), team)
            day += _between(rng, 240, 365) if rng.random() < 0.86 else _between(rng, 366, 500)

    # --- recording ------------------------------------------------------------------------

    def _sent(self) -> list[_Raw]:
        """The child's events the run sends, in time order; none for a child with nothing from
        ``start`` on who did not leave care in the 12 months before."""
        run = self.run
        raws = [e for e in self.events if e[0] < run.end_key]
        if not raws:
            return []
        if max(e[0] for e in raws) < run.start_key and self.left_care * DAY < run.include_from_key:
            return []
        # visits and core groups are backloaded for the last 12 months only
        old = run.include_from_key
        raws = [e for e in raws if e[0] >= old or e[1] not in RECURRING]
        raws.sort(key=itemgetter(0))
        return raws

    def finish(self) -> list[tuple[int, _Done]]:
        """Ids and recording times; late records, amendments and voided duplicates. Empty for a
        child with nothing from ``start`` on who did not leave care in the 12 months before."""
        run = self.run
        raws = self._sent()
        rng = self.rng
        rand = rng.random
        prefix = f"E{run.seed}-{self.tag}-"
        done: list[tuple[int, _Done]] = []
        append = done.append
        voids: list[tuple[int, _Done]] = []
        child = self.child_id
        for i, (key, event_type, timed, episode, payload, team, worker) in enumerate(raws):
            event_id = f"{prefix}{i:04d}"
            recorded = _recorded(key, timed, rand)
            event = (
                event_id,
                1,
                event_type,
                timed,
                recorded,
                child,
                episode,
                payload,
                team,
                worker,
            )
            append((key, event))
            r = rand()
            if r >= P_AMEND + P_DUPLICATE_VOIDED:
                continue
            if r < P_AMEND and event_type in AMENDABLE:
                amended = _amended(event_type, payload, rng)
                later = _clock(recorded + _between(rng, 1, 30) * DAY)
                append(
                    (key, (event_id, 2, *event[2:4], later, child, episode, amended, team, worker))
                )
            elif r >= P_AMEND and event_type in DUPLICATED:
                duplicate_id = f"{event_id}-D"
                duplicate_episode = episode if event_type == "case_allocated" else f"{episode}-D"
                duplicate = (duplicate_id, 1, event_type, timed, _clock(recorded + 3), child)
                append((key, (*duplicate, duplicate_episode, dict(payload), team, worker)))
                when = self.office_time(key // DAY + _between(rng, 1, 10))
                voided = {"voided_event_id": duplicate_id, "voided_event_type": event_type}
                void = (f"{event_id}-V", 1, "event_voided", True, _clock(when + 5), child)
                voids.append((when, (*void, duplicate_episode, voided, team, worker)))
        if voids:
            done.extend(v for v in voids if v[0] < run.end_key)
            done.sort(key=itemgetter(0))
        # the history as the case system holds it at the end: nothing recorded after it
        return [d for d in done if d[1][4] < run.end_key]


def _recorded(key: int, timed: bool, rand: Callable[[], float]) -> int:
    """When an event that happened at ``key`` was recorded: most within hours, a few days or
    weeks late."""
    if rand() < P_LATE_RECORDING:
        return (key // DAY + 2 + int(rand() * 24)) * DAY + 9 * HOUR + int(rand() * 540)
    if timed:
        return _clock(key + 5 + int(rand() * 235))
    return key + (DAY if rand() >= 0.8 else 0) + 9 * HOUR + int(rand() * 600)


def _amended(event_type: str, payload: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    """A corrected detail: what a worker fixes after saving."""
    amended = dict(payload)
    if event_type == "referral_received":
        amended["referral_source"] = _weighted(rng, REFERRAL_SOURCES, REFERRAL_SOURCE_WEIGHTS)
    elif event_type == "visit_held":
        amended["child_seen_alone"] = (
            bool(payload["child_seen"]) and not payload["child_seen_alone"]
        )
    elif event_type == "placement_started":
        amended["placement_provider"] = _pick(rng, PLACEMENT_PROVIDERS)
    elif event_type == "assessment_completed":
        amended["factors"] = sorted({*payload["factors"], _pick(rng, ASSESSMENT_FACTORS)})
    return amended


def _workers(teams: _Teams, children_per_year: int) -> dict[str, tuple[str, ...]]:
    per_team = max(4, children_per_year // 250)
    return {
        team: tuple(f"W-{t:02d}{n:04d}" for n in range(1, per_team + 1))
        for t, team in enumerate(teams.all(), start=1)
    }


def _materialise(key: int, e: _Done, source_system: str) -> dict[str, Any]:
    event_id, revision, event_type, timed, recorded, child, episode, payload, team, worker = e
    event: dict[str, Any] = {
        "event_id": event_id,
        "revision": revision,
        "event_type": event_type,
        "schema_version": 1,
        "occurred_at": _format(key, timed),
        "recorded_at": _format(recorded, True),
        "source_system": source_system,
        "child_id": child,
        "episode_id": episode,
        "team": team,
        "payload": payload,
    }
    if worker is not None:
        event["worker_id"] = worker
    return event


def _arrivals(rng: random.Random, first: int, last: int, expected: float) -> list[int]:
    """Arrival keys in [first, last) days: mostly weekdays in office hours."""
    count = int(expected + rng.random())
    span = last - first
    keys = []
    for _ in range(count):
        day = first + _below(rng, span)
        if _weekday(day) >= 5 and rng.random() < 0.7:
            day = first + _below(rng, span)
        office = rng.random() < 0.8
        minute = _between(rng, 8 * HOUR + 30, 18 * HOUR) if office else _below(rng, DAY)
        keys.append(_clock(day * DAY + minute))
    keys.sort()
    return keys


def generate(
    *,
    seed: int,
    start: date,
    end: date,
    children_per_year: int,
    teams: Mapping[str, Sequence[str]] | None = None,
    source_system: str = "synthetic",
) -> Iterator[dict[str, Any]]:
    """Events of a fictional council, in event-time order, from ``start`` to ``end`` (exclusive),
    preceded by the history of the children it already knows (see the module docstring).

    ``teams`` maps services to their teams, in the order front door, assessment, child
    protection, children in care (its last team works the court cases); by default the example
    council's. The same arguments give the same events.
    """
    if end <= start:
        raise ValueError("end must be after start")
    if children_per_year < 0:
        raise ValueError("children_per_year must not be negative")
    stages = _Teams.from_services(DEFAULT_TEAMS if teams is None else teams)
    include_from = _add_months(start.toordinal(), -BACKLOAD_MONTHS)
    run = _Run(
        seed=seed,
        source_system=source_system,
        teams=stages,
        workers=_workers(stages, children_per_year),
        horizon=end.toordinal(),
        end_key=end.toordinal() * DAY,
        start_key=start.toordinal() * DAY,
        include_from_key=include_from * DAY,
    )
    return _stream(run, _add_months(start.toordinal(), -12 * WARMUP_YEARS), children_per_year)


def _stream(run: _Run, first_day: int, children_per_year: int) -> Iterator[dict[str, Any]]:
    heap: list[tuple[int, int, _Done]] = []
    sequence = 0
    number = 0
    month = first_day
    source = run.source_system
    push, pop = heapq.heappush, heapq.heappop
    while month < run.horizon:
        following = min(_add_months(month, 1), run.horizon)
        label = date.fromordinal(month).isoformat()
        rng = random.Random(f"casetime-synthetic:{run.seed}:{label}")
        expected = children_per_year * (following - month) / 365.25
        for arrival in _arrivals(rng, month, following, expected):
            number += 1
            child = _Child(run, rng, number, arrival)
            child.live(arrival)
            for key, done in child.finish():
                push(heap, (key, sequence, done))
                sequence += 1
        flush_before = following * DAY
        while heap and heap[0][0] < flush_before:
            key, _, done = pop(heap)
            yield _materialise(key, done, source)
        month = following
    while heap:
        key, _, done = pop(heap)
        yield _materialise(key, done, source)


# --- replay files ---------------------------------------------------------------------------


def write_jsonl(events: Iterable[Mapping[str, Any]], path: str | Path) -> int:
    """One event a line; returns how many were written."""
    count = 0
    with Path(path).open("w", encoding="utf-8") as out:
        for event in events:
            out.write(json.dumps(event, separators=(",", ":")))
            out.write("\n")
            count += 1
    return count


def read_jsonl(path: str | Path) -> Iterator[dict[str, Any]]:
    with Path(path).open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                event: dict[str, Any] = json.loads(line)
                yield event


def main(argv: Sequence[str] | None = None) -> None:
    """Write a replay file:
    ``python -m casetime_tools.synthetic SIZE START END OUT.jsonl [SEED]``."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("size", help=f"one of {', '.join(SIZES)}, or children per year")
    parser.add_argument("start", type=date.fromisoformat)
    parser.add_argument("end", type=date.fromisoformat, help="exclusive")
    parser.add_argument("out", type=Path)
    parser.add_argument("seed", type=int, nargs="?", default=1)
    args = parser.parse_args(argv)
    size = int(args.size) if args.size.isdigit() else children_per_year_for(args.size)
    events = generate(seed=args.seed, start=args.start, end=args.end, children_per_year=size)
    print(f"{write_jsonl(events, args.out)} events written to {args.out}")


if __name__ == "__main__":
    main()
