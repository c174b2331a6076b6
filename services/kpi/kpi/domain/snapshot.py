"""All KPI values as at a date: pure, from the episodes the repository loaded."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from kpi.domain.calendar import WorkingDayCalendar
from kpi.domain.episodes import Assessment, CareProceedings, Referral
from kpi.domain.kpis.assessments import ASMT_45WD, AssessmentInputs
from kpi.domain.kpis.base import COUNCIL, Outcome, Polarity, Tally, tally_by_team
from kpi.domain.kpis.proceedings import PROC_26W
from kpi.domain.periods import PeriodKind, periods_ending


@dataclass(frozen=True)
class KpiInputs:
    """Every episode that closed a clock between the earliest period start and the as-at date."""

    assessments: Sequence[Assessment]
    referrals: Mapping[tuple[str, str], Referral]
    care_proceedings: Sequence[CareProceedings]


@dataclass(frozen=True, slots=True)
class KpiValue:
    kpi: str
    period: PeriodKind
    team: str
    tally: Tally


@dataclass(frozen=True)
class KpiSnapshot:
    as_at: date
    values: tuple[KpiValue, ...]

    def get(self, kpi: str, period: PeriodKind, team: str = COUNCIL) -> Tally:
        for value in self.values:
            if (value.kpi, value.period, value.team) == (kpi, period, team):
                return value.tally
        return Tally()


KPI_TITLES = {ASMT_45WD.id: ASMT_45WD.title, PROC_26W.id: PROC_26W.title}
KPI_POLARITY: dict[str, Polarity] = {
    ASMT_45WD.id: ASMT_45WD.polarity,
    PROC_26W.id: PROC_26W.polarity,
}


def compute_snapshot(inputs: KpiInputs, as_at: date, calendar: WorkingDayCalendar) -> KpiSnapshot:
    outcomes: dict[str, list[Outcome]] = {
        ASMT_45WD.id: ASMT_45WD.outcomes(
            AssessmentInputs(inputs.assessments, inputs.referrals), calendar
        ),
        PROC_26W.id: PROC_26W.outcomes(inputs.care_proceedings, calendar),
    }
    values: list[KpiValue] = []
    for kpi_id, kpi_outcomes in outcomes.items():
        # Every team with any outcome in the widest period gets a series in every period, so a
        # panel shows 0 of 0 rather than a gap.
        teams = {o.team for o in kpi_outcomes} | {COUNCIL}
        for period in periods_ending(as_at):
            tallies = tally_by_team(kpi_outcomes, period)
            values.extend(
                KpiValue(kpi_id, period.kind, team, tallies.get(team, Tally()))
                for team in sorted(teams)
            )
    return KpiSnapshot(as_at, tuple(values))
