"""Assessment timeliness (catalogue section 3)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

from kpi.domain.calendar import WorkingDayCalendar
from kpi.domain.episodes import Assessment, Referral
from kpi.domain.kpis.base import Outcome, Polarity, RatioKpi

ASSESSMENT_WORKING_DAYS = 45


@dataclass(frozen=True)
class AssessmentInputs:
    assessments: Sequence[Assessment]
    # (child id, referral id) -> the referral an assessment answers
    referrals: Mapping[tuple[str, str], Referral]


def _within_45_working_days_of_referral(
    inputs: AssessmentInputs, calendar: WorkingDayCalendar
) -> Iterator[Outcome]:
    """ASMT-45WD: assessments authorised in period; in time when
    ``wd_between(referral, authorised) <= 45``. An assessment whose referral has not arrived
    cannot be timed: it is left out (and flagged by data quality) rather than guessed."""
    for assessment in inputs.assessments:
        referral = inputs.referrals.get((assessment.child_id, assessment.referral_id or ""))
        if assessment.authorised_on is None or referral is None or referral.opened_on is None:
            continue
        elapsed = calendar.working_days_between(referral.opened_on, assessment.authorised_on)
        yield Outcome(assessment.team, assessment.authorised_on, elapsed <= ASSESSMENT_WORKING_DAYS)


ASMT_45WD = RatioKpi(
    id="ASMT-45WD",
    title="Assessments completed within 45 working days of referral",
    polarity=Polarity.HIGHER_IS_BETTER,
    rule=_within_45_working_days_of_referral,
)
