"""The improvement board's pack (issue 15): a month's figures frozen at its close, and what late
events and corrections have changed since (revisions). Pure: storing a freeze and writing the
pack are adapters' jobs (kpi.adapters.freezes, kpi.adapters.xlsx_pack).

A freeze holds every figure of `/kpis` as at the month's last day (every KPI, period, team,
service and the council, rated and compared), the breaches by exception reason and the
data-quality counts, and what was known when: the moment it was taken and how many events the
service held. It never changes. A later re-evaluation of the same day is compared with it: each
figure whose counts differ is a revision, shown in the next pack.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from kpi.domain.calendar import WorkingDayCalendar
from kpi.domain.council import CouncilConfig
from kpi.domain.evaluation import Evaluation
from kpi.domain.kpis import KPIS
from kpi.domain.periods import add_months
from kpi.domain.report import KpiRow

NOT_RECORDED = "reason_not_recorded"


def month_end(month: date) -> date:
    return add_months(month.replace(day=1), 1) - timedelta(days=1)


@dataclass(frozen=True)
class FrozenFigure:
    """A `/kpis` row as it stood at the freeze (RAG and direction as their words)."""

    kpi: str
    title: str
    period: str
    level: str  # team, service or council
    unit_name: str  # the team or service; "all" for the council
    unit: str
    value: float | None
    numerator: int
    denominator: int
    small_numbers: bool
    target: float | None
    rag: str
    polarity: str
    comparators: dict[str, Any]
    previous_value: float | None
    direction: str

    @classmethod
    def of(cls, row: KpiRow) -> FrozenFigure:
        fields = asdict(row)
        fields["rag"], fields["direction"] = row.rag.value, row.direction.value
        fields["comparators"] = row.comparators.model_dump(mode="json", exclude_none=True)
        return cls(**fields)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.kpi, self.period, self.level, self.unit_name)


@dataclass(frozen=True)
class ScorecardSetting:
    """A KPI's scorecard columns from the council file, as they stood at the freeze (a pack
    printed again after next year's targets are set still shows this year's)."""

    kpi: str
    aim: str  # higher, lower, band or context
    low: float | None = None  # a band's range
    high: float | None = None
    milestone: float | None = None
    next_year_target: float | None = None
    national_quartile: int | None = None
    quartile_year: str | None = None
    last_year: float | None = None  # the council file's, used when no March freeze is held

    @classmethod
    def of(cls, config: CouncilConfig, kpi: str) -> ScorecardSetting:
        target = config.target_for(kpi)
        quartile = target.national_quartile
        last_year = target.comparators.last_year
        return cls(
            kpi=kpi,
            aim=config.aim_of(kpi),
            low=target.low,
            high=target.high,
            milestone=target.milestone,
            next_year_target=target.next_year_target,
            national_quartile=None if quartile is None else quartile.quartile,
            quartile_year=None if quartile is None else quartile.year,
            last_year=None if last_year is None else last_year.value,
        )


def scorecard_settings(config: CouncilConfig) -> tuple[ScorecardSetting, ...]:
    return tuple(ScorecardSetting.of(config, kpi) for kpi in KPIS)


@dataclass(frozen=True)
class BreachCount:
    kpi: str
    period: str
    team: str
    reason: str
    count: int


@dataclass(frozen=True)
class Freeze:
    month: date  # its first day
    frozen_at: datetime
    events_known: int
    figures: tuple[FrozenFigure, ...]
    breaches: tuple[BreachCount, ...] = ()
    issues: tuple[tuple[str, int], ...] = ()
    # the previous frozen month's figures that later events changed, as known at this freeze
    revisions: tuple[Revision, ...] = ()
    settings: tuple[ScorecardSetting, ...] = ()  # empty in freezes made before they were kept
    _by_key: dict[tuple[str, str, str, str], FrozenFigure] = field(
        init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_key", {f.key: f for f in self.figures})

    @property
    def month_end(self) -> date:
        return month_end(self.month)

    def figure(self, kpi: str, period: str, level: str, unit_name: str) -> FrozenFigure | None:
        return self._by_key.get((kpi, period, level, unit_name))

    def setting(self, kpi: str) -> ScorecardSetting | None:
        return next((s for s in self.settings if s.kpi == kpi), None)

    def to_json(self) -> str:
        body = {
            "month": self.month.isoformat(),
            "frozen_at": self.frozen_at.isoformat(),
            "events_known": self.events_known,
            "figures": [asdict(f) for f in self.figures],
            "breaches": [asdict(b) for b in self.breaches],
            "issues": [list(i) for i in self.issues],
            "revisions": [asdict(r) for r in self.revisions],
            "settings": [asdict(s) for s in self.settings],
        }
        return json.dumps(body, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Freeze:
        body = json.loads(text)
        return cls(
            month=date.fromisoformat(body["month"]),
            frozen_at=datetime.fromisoformat(body["frozen_at"]),
            events_known=body["events_known"],
            figures=tuple(FrozenFigure(**f) for f in body["figures"]),
            breaches=tuple(BreachCount(**b) for b in body["breaches"]),
            issues=tuple((check, count) for check, count in body["issues"]),
            revisions=tuple(Revision.of(r) for r in body.get("revisions", [])),
            settings=tuple(ScorecardSetting(**s) for s in body.get("settings", [])),
        )


def breach_order(reason: str) -> tuple[bool, str]:
    """Exception reasons alphabetically, "reason not recorded" last."""
    return (reason == NOT_RECORDED, reason)


def freeze_of(
    month: date,
    frozen_at: datetime,
    events_known: int,
    rows: Sequence[KpiRow],
    evaluation: Evaluation,
    revised: Sequence[Revision] = (),
    settings: Sequence[ScorecardSetting] = (),
) -> Freeze:
    """The freeze of ``month`` from the rows and evaluation as at its last day."""
    assert evaluation.as_at == month_end(month), "a freeze is of the month's last day"
    breaches = sorted(
        (BreachCount(k, p, t, r, n) for (k, p, t, r), n in evaluation.breach_counts.items()),
        key=lambda b: (b.kpi, b.period, b.team, breach_order(b.reason)),
    )
    return Freeze(
        month=month.replace(day=1),
        frozen_at=frozen_at,
        events_known=events_known,
        figures=tuple(FrozenFigure.of(r) for r in rows),
        breaches=tuple(breaches),
        issues=tuple(sorted(evaluation.issue_counts.items())),
        revisions=tuple(revised),
        settings=tuple(settings),
    )


@dataclass(frozen=True)
class Revision:
    """A frozen figure that later events changed: as frozen and as known now."""

    kpi: str
    period: str
    level: str
    unit_name: str
    old: FrozenFigure
    new: FrozenFigure
    # events applied after the freeze that happened on or before the month's end, for this
    # figure's team (the council's and a service's: all of them)
    late_events: int

    @classmethod
    def of(cls, body: dict[str, Any]) -> Revision:
        old, new = FrozenFigure(**body["old"]), FrozenFigure(**body["new"])
        return cls(**{**body, "old": old, "new": new})


def revisions(
    frozen: Freeze, now: Sequence[KpiRow], late_events: Mapping[str, int]
) -> list[Revision]:
    """Every figure of the frozen month whose numerator or denominator is not what it was (a
    figure frozen with nothing in its cohort, and none now, is no revision)."""
    found = []
    for row in now:
        new = FrozenFigure.of(row)
        old = frozen.figure(*new.key)
        if old is None:
            if new.denominator == 0:
                continue
            old = FrozenFigure(**{**asdict(new), "value": None, "numerator": 0, "denominator": 0})
        if (old.numerator, old.denominator) == (new.numerator, new.denominator):
            continue
        team = new.unit_name if new.level == "team" else "all"
        late = late_events.get(team, 0) if team != "all" else sum(late_events.values())
        found.append(Revision(new.kpi, new.period, new.level, new.unit_name, old, new, late))
    return sorted(found, key=lambda r: (r.kpi, r.period, r.level != "council", r.unit_name))


def papers_deadline(meeting: date, calendar: WorkingDayCalendar, working_days: int = 3) -> date:
    """The day the papers must be ready: ``working_days`` working days before the meeting."""
    day = meeting
    left = working_days
    while left > 0:
        day -= timedelta(days=1)
        if calendar.is_working_day(day):
            left -= 1
    return day


def meeting_month(meeting: date, calendar: WorkingDayCalendar, working_days: int = 3) -> date:
    """The latest month complete before the papers deadline (its first day)."""
    before = papers_deadline(meeting, calendar, working_days) - timedelta(days=1)
    month = before.replace(day=1)
    return month if month_end(month) <= before else add_months(month, -1)


def quarter_month(year: int, quarter: int) -> date:
    """The last month of a financial quarter: Q1 is April to June (``2026-Q2``: September)."""
    if not 1 <= quarter <= 4:
        raise ValueError("a quarter is 1 to 4")
    first = date(year, 4, 1)
    return add_months(first, 3 * quarter - 1)


def freeze_due(today: date, clock: time, day: int, at: time) -> date | None:
    """The month a scheduled freeze is due for (its first day): the month before ``today``'s,
    once its ``day``-th has come at ``at`` (London time); None before that."""
    due = today.replace(day=1) + timedelta(days=day - 1)
    if (today, clock) >= (due, at):
        return add_months(today.replace(day=1), -1)
    return None


@dataclass(frozen=True)
class PackContext:
    """What a pack is made of: the month's freeze and other months' (for the trend)."""

    council: str
    freeze: Freeze
    earlier: Sequence[Freeze]


def trend_months(month: date) -> list[date]:
    """The 13 months ending with ``month`` (first days), oldest first."""
    return [add_months(month, -n) for n in range(12, -1, -1)]
