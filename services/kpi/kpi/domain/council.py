"""A council's configuration (catalogue sections 6 and 7): teams and services, targets, RAG
rules and comparators per KPI, and the settings that change how rules count. Pure: loading the
file is an adapter's job (kpi.adapters.council_file)."""

from __future__ import annotations

from datetime import date
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from kpi.domain.calendar import WorkingDayConvention
from kpi.domain.casebook import RuleSettings
from kpi.domain.kpis import KPIS
from kpi.domain.kpis.base import COUNCIL, UNLISTED, Polarity


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Comparator(_Strict):
    value: float
    year: str = Field(description="The year the value is for, e.g. 2024-25.")
    published: date | None = None


class Comparators(_Strict):
    england: Comparator | None = None
    region: Comparator | None = None
    statistical_neighbours: Comparator | None = None
    baseline: Comparator | None = None
    projection: Comparator | None = None
    # the council's own published figure for the last financial year, where casetime holds no
    # freeze of that year's March (its first year)
    last_year: Comparator | None = None


class NationalQuartile(_Strict):
    """Where the council's last published figure stands among English councils."""

    quartile: int = Field(ge=1, le=4, description="1: among the best quarter of councils.")
    year: str = Field(description="The year of the published figures, e.g. 2024-25.")


class RagRule(StrEnum):
    RELATIVE = "relative"  # amber within `tolerance` of the target, relative to it
    FLOOR = "floor"  # amber between `floor` and the target
    BAND = "band"  # green inside [low, high], amber within `tolerance` outside it


class KpiTarget(_Strict):
    target: float | None = None
    polarity: Polarity | None = None  # default: the catalogue's
    rag_rule: RagRule = RagRule.RELATIVE
    tolerance: float = Field(default=0.10, ge=0, le=1)
    floor: float | None = None
    low: float | None = None
    high: float | None = None
    comparators: Comparators = Comparators()
    # the scorecard's columns beside the target: this year's step towards it (an improvement
    # plan's milestone), next year's target and the national quartile
    milestone: float | None = None
    next_year_target: float | None = None
    national_quartile: NationalQuartile | None = None

    @model_validator(mode="after")
    def _rule_has_its_bounds(self) -> KpiTarget:
        if self.rag_rule is RagRule.FLOOR and (self.floor is None or self.target is None):
            raise ValueError("a floor rule needs both target and floor")
        if self.rag_rule is RagRule.BAND and (self.low is None or self.high is None):
            raise ValueError("a band rule needs low and high")
        return self


class CouncilConfig(_Strict):
    council: str
    # service -> its teams; a team in no service rolls up to the council only
    services: dict[str, list[str]] = {}
    population_0_to_17: int | None = Field(default=None, gt=0)
    working_day_convention: WorkingDayConvention = WorkingDayConvention.EXCLUSIVE
    cp_visit_standard_working_days: int = Field(default=10, ge=1, le=30)
    due_soon_working_days: int = Field(default=5, ge=0, le=30)
    hour_clock_due_soon_share: float = Field(default=0.25, gt=0, le=1)
    referral_decision_basis: Literal["hours", "working_day"] = "hours"
    return_home_reasons: list[str] = ["E13"]
    small_number_threshold: int = Field(default=5, ge=0)
    kpis: dict[str, KpiTarget] = {}

    @field_validator("kpis")
    @classmethod
    def _known_kpis(cls, kpis: dict[str, KpiTarget]) -> dict[str, KpiTarget]:
        unknown = sorted(set(kpis) - set(KPIS))
        if unknown:
            raise ValueError(f"unknown KPI ids {unknown}; known: {sorted(KPIS)}")
        return kpis

    @field_validator("services")
    @classmethod
    def _each_team_in_one_service(cls, services: dict[str, list[str]]) -> dict[str, list[str]]:
        seen: dict[str, str] = {}
        for service, teams in services.items():
            for team in teams:
                if team == COUNCIL:
                    raise ValueError(f"'{COUNCIL}' is reserved for the council total")
                if team in seen:
                    raise ValueError(f"team {team!r} is in both {seen[team]!r} and {service!r}")
                seen[team] = service
        return services

    @property
    def teams(self) -> frozenset[str]:
        """Every team the council file lists (empty: it lists none)."""
        return frozenset(team for teams in self.services.values() for team in teams)

    def label_for(self, team: str) -> str:
        """The team as a metric label: a closed set, so an unlisted team is ``unlisted``."""
        if team == COUNCIL or not self.teams or team in self.teams:
            return team
        return UNLISTED

    def service_of(self, team: str) -> str | None:
        for service, teams in self.services.items():
            if team in teams:
                return service
        return None

    def target_for(self, kpi_id: str) -> KpiTarget:
        return self.kpis.get(kpi_id, KpiTarget())

    def polarity_of(self, kpi_id: str) -> Polarity:
        return self.target_for(kpi_id).polarity or KPIS[kpi_id].polarity

    def aim_of(self, kpi_id: str) -> str:
        """The scorecard's aim: higher, lower, band (inside a range) or context (none)."""
        if self.target_for(kpi_id).rag_rule is RagRule.BAND:
            return "band"
        return self.polarity_of(kpi_id).value

    def rule_settings(self) -> RuleSettings:
        return RuleSettings(
            cp_visit_standard_working_days=self.cp_visit_standard_working_days,
            due_soon_working_days=self.due_soon_working_days,
            hour_clock_due_soon_share=self.hour_clock_due_soon_share,
            referral_decision_basis=self.referral_decision_basis,
            return_home_reasons=tuple(self.return_home_reasons),
            population_0_to_17=self.population_0_to_17,
            small_number_threshold=self.small_number_threshold,
        )


class Rag(StrEnum):
    GREEN = "Green"
    AMBER = "Amber"
    RED = "Red"
    GREY = "Grey"  # not targeted: monitoring only
    NOT_RATED = "Not rated"  # small numbers: shown, flagged, not rated
    NO_DATA = "No data"


def rag(
    value: float | None,
    denominator: int | None,
    target: KpiTarget,
    polarity: Polarity,
    small_number_threshold: int = 5,
) -> Rag:
    """RAG from the data, never typed in (catalogue section 6)."""
    if value is None:
        return Rag.NO_DATA
    if target.rag_rule is not RagRule.BAND and target.target is None:
        return Rag.GREY
    if polarity is Polarity.CONTEXT:
        return Rag.GREY
    # Ratios like 0.2 + 10% of 0.2 are not exact in binary: compare at 9 decimal places.
    value = round(value, 9)
    if denominator is not None and denominator < small_number_threshold:
        return Rag.NOT_RATED
    if target.rag_rule is RagRule.BAND:
        assert target.low is not None
        assert target.high is not None
        if target.low <= value <= target.high:
            return Rag.GREEN
        edge = target.low if value < target.low else target.high
        return Rag.AMBER if abs(value - edge) < target.tolerance * abs(edge) else Rag.RED
    goal = target.target
    assert goal is not None
    higher = polarity is Polarity.HIGHER_IS_BETTER
    if (value >= goal) if higher else (value <= goal):
        return Rag.GREEN
    if target.rag_rule is RagRule.FLOOR:
        assert target.floor is not None
        within = value >= target.floor if higher else value <= target.floor
        return Rag.AMBER if within else Rag.RED
    margin = target.tolerance * goal
    within = value > round(goal - margin, 9) if higher else value < round(goal + margin, 9)
    return Rag.AMBER if within else Rag.RED


def rag_bands(target: KpiTarget, polarity: Polarity) -> list[tuple[float | None, Rag]]:
    """The RAG rule as bands for charts and dashboards: each band's lower edge (None: from
    below) and its rating, lowest first. An edge value itself may rate either way (``rag`` is
    the rating; this is the picture of it)."""
    goal = target.target
    if target.rag_rule is RagRule.BAND and target.low is not None and target.high is not None:
        low, high, tol = target.low, target.high, target.tolerance
        return [
            (None, Rag.RED),
            (low * (1 - tol), Rag.AMBER),
            (low, Rag.GREEN),
            (high, Rag.AMBER),
            (high * (1 + tol), Rag.RED),
        ]
    if goal is None or polarity is Polarity.CONTEXT:
        return [(None, Rag.GREY)]
    floor = target.floor if target.rag_rule is RagRule.FLOOR else None
    if polarity is Polarity.HIGHER_IS_BETTER:
        amber = floor if floor is not None else goal * (1 - target.tolerance)
        return [(None, Rag.RED), (amber, Rag.AMBER), (goal, Rag.GREEN)]
    red = floor if floor is not None else goal * (1 + target.tolerance)
    return [(None, Rag.GREEN), (goal, Rag.AMBER), (red, Rag.RED)]


class Direction(StrEnum):
    IMPROVING = "improving"
    WORSENING = "worsening"
    NO_CHANGE = "no change"
    NOT_COMPARABLE = "not comparable"


def direction(current: float | None, previous: float | None, polarity: Polarity) -> Direction:
    if current is None or previous is None or polarity is Polarity.CONTEXT:
        return Direction.NOT_COMPARABLE
    if abs(current - previous) < 1e-9:
        return Direction.NO_CHANGE
    better = current > previous if polarity is Polarity.HIGHER_IS_BETTER else current < previous
    return Direction.IMPROVING if better else Direction.WORSENING
