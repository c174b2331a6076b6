"""ASMT-45WD and PROC-26W (catalogue section 3), their tallies, and the snapshot over four periods.

Every working-day count is worked out by hand in the comment beside it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time

import pytest

from casetime.events import LONDON
from kpi.domain.calendar import england_calendar
from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.council import CouncilConfig
from kpi.domain.episodes import AnyEpisode, Assessment, CareProceedings, Referral
from kpi.domain.evaluation import Evaluation, KpiFigure, evaluate
from kpi.domain.kpis.assessments import ASMT_45WD
from kpi.domain.kpis.base import COUNCIL, Figure, Kpi, Outcome, Polarity, by_team, figure
from kpi.domain.kpis.proceedings import PROC_26W
from kpi.domain.periods import Period, PeriodKind

CALENDAR = england_calendar()
CHILD = "C-1"
# Neither rule here depends on the as-at date; period filtering is tested through tallies.
ANY_DAY = date(2030, 1, 1)


def Tally(numerator: int = 0, denominator: int = 0) -> tuple[int, int]:  # noqa: N802
    return (numerator, denominator)


def outcomes_of(kpi: Kpi, episodes: Sequence[AnyEpisode]) -> list[Outcome]:
    return list(kpi.rule(CaseBook(episodes), RuleContext(ANY_DAY, CALENDAR)))


def tally_by_team(outcomes: Sequence[Outcome], period: Period) -> dict[str, tuple[int, int]]:
    members = [o for o in outcomes if o.counted_on in period]
    return {
        team: (f.numerator, f.denominator)
        for team, group in by_team(members).items()
        for f in [figure(ASMT_45WD, group, None)]
    }


def compute_snapshot(episodes: Sequence[AnyEpisode], as_at: date) -> Evaluation:
    return evaluate(CaseBook(episodes), RuleContext(as_at, CALENDAR), CouncilConfig(council="T"))


def figure_of(
    evaluation: Evaluation, kpi: str, kind: PeriodKind, team: str = COUNCIL
) -> tuple[int, int]:
    found = evaluation.figure(kpi, kind.value, team)
    return (found.numerator, found.denominator)


def _figures_of_these_kpis(evaluation: Evaluation) -> list[KpiFigure]:
    """The snapshot's figures for the two KPIs under test (evaluate() runs the whole catalogue)."""
    return [f for f in evaluation.figures if f.kpi in {ASMT_45WD.id, PROC_26W.id}]


def _referral(referral_id: str, received: date | datetime, child_id: str = CHILD) -> Referral:
    received_at = (
        received
        if isinstance(received, datetime)
        else datetime.combine(received, time.min, tzinfo=LONDON)
    )
    return Referral(
        episode_id=referral_id, child_id=child_id, team="Front Door", received_at=received_at
    )


def _assessment(
    episode_id: str,
    referral_id: str | None,
    authorised_on: date | None,
    team: str = "North",
    child_id: str = CHILD,
) -> Assessment:
    return Assessment(
        episode_id=episode_id,
        child_id=child_id,
        team=team,
        referral_id=referral_id,
        authorised_on=authorised_on,
    )


def _referrals(*referrals: Referral) -> dict[tuple[str, str], Referral]:
    return {(r.child_id, r.episode_id): r for r in referrals}


def _asmt_outcomes(
    assessments: Sequence[Assessment], referrals: dict[tuple[str, str], Referral]
) -> list[Outcome]:
    return outcomes_of(ASMT_45WD, [*assessments, *referrals.values()])


def _one_assessment(referred: date | datetime, authorised: date) -> Outcome:
    outcomes = _asmt_outcomes(
        [_assessment("A-1", "R-1", authorised)], _referrals(_referral("R-1", referred))
    )
    assert len(outcomes) == 1
    return outcomes[0]


def _proceedings(
    issued: date | None,
    concluded: date | None,
    team: str = "North",
    extension_weeks: int = 0,
    episode_id: str = "P-1",
    child_id: str = CHILD,
) -> CareProceedings:
    return CareProceedings(
        episode_id=episode_id,
        child_id=child_id,
        team=team,
        issued_on=issued,
        concluded_on=concluded,
        extension_weeks=extension_weeks,
    )


# --- ASMT-45WD ------------------------------------------------------------------------------


def test_asmt_45wd_is_higher_is_better() -> None:
    assert ASMT_45WD.id == "ASMT-45WD"
    assert ASMT_45WD.polarity is Polarity.HIGHER_IS_BETTER


def test_assessment_on_working_day_45_is_in_time() -> None:
    # Referral Mon 2 Sep 2024; no bank holiday before Christmas, so working day 45 is nine
    # full weeks later, Mon 4 Nov 2024.
    outcome = _one_assessment(date(2024, 9, 2), date(2024, 11, 4))
    assert outcome == Outcome(
        "North", date(2024, 11, 4), True, CHILD, "A-1", value=45, due=date(2024, 11, 4)
    )


def test_assessment_on_working_day_46_is_late() -> None:
    # Tue 5 Nov 2024 is working day 46 after Mon 2 Sep 2024.
    # Still due on working day 45, Mon 4 Nov 2024.
    outcome = _one_assessment(date(2024, 9, 2), date(2024, 11, 5))
    assert outcome == Outcome(
        "North", date(2024, 11, 5), False, CHILD, "A-1", value=46, due=date(2024, 11, 4)
    )


def test_assessment_on_day_45_is_in_time_across_easter() -> None:
    # Referral Mon 3 Mar 2025. (3 Mar, 2 May] holds 44 weekdays, less Good Friday 18 Apr and
    # Easter Monday 21 Apr = 42; Mon 5 May is a bank holiday; Tue 6 = 43, Wed 7 = 44,
    # Thu 8 May = 45. Counting weekdays only, Thu 8 May would be day 48 and late.
    assert _one_assessment(date(2025, 3, 3), date(2025, 5, 8)).met


def test_assessment_on_day_46_is_late_across_easter() -> None:
    # Fri 9 May 2025 is working day 46 after Mon 3 Mar 2025 (see above).
    assert not _one_assessment(date(2025, 3, 3), date(2025, 5, 9)).met


def test_assessment_across_the_queens_funeral_gets_one_more_day() -> None:
    # Referral Mon 5 Sep 2022. Nine weeks on, Mon 7 Nov 2022, is 45 weekdays but only 44
    # working days (Mon 19 Sep 2022 was the state funeral), so Tue 8 Nov is day 45 and
    # Wed 9 Nov day 46.
    assert _one_assessment(date(2022, 9, 5), date(2022, 11, 8)).met
    assert not _one_assessment(date(2022, 9, 5), date(2022, 11, 9)).met


def test_assessment_clock_starts_on_the_referral_date_in_england() -> None:
    # 23:30 UTC on Sun 1 Sep 2024 is 00:30 BST on Mon 2 Sep 2024: the referral date is Monday,
    # and Mon 4 Nov 2024 is day 45 (in time). Counting from the UTC date, Sunday, would make
    # Monday 2 Sep day 1 and 4 Nov day 46 (late).
    referred = datetime.fromisoformat("2024-09-01T23:30:00+00:00")
    assert _one_assessment(referred, date(2024, 11, 4)).met


# An assessment that cannot be timed from its referral stays in the cohort, not met, with no
# due date (catalogue section 10.2): never dropped, never guessed.
UNTIMED = [
    Outcome("North", date(2024, 11, 4), False, CHILD, "A-1", value=None, due=None),
]


def test_assessment_without_its_referral_counts_as_not_met() -> None:
    # R-9 has not arrived.
    outcomes = _asmt_outcomes(
        [_assessment("A-1", "R-9", date(2024, 11, 4))],
        _referrals(_referral("R-1", date(2024, 9, 2))),
    )
    assert outcomes == UNTIMED


def test_assessment_with_no_referral_id_counts_as_not_met() -> None:
    outcomes = _asmt_outcomes(
        [_assessment("A-1", None, date(2024, 11, 4))],
        _referrals(_referral("R-1", date(2024, 9, 2))),
    )
    assert outcomes == UNTIMED


def test_assessment_is_timed_only_from_its_own_childs_referral() -> None:
    # Referral R-1 exists, but for child C-2: child C-1's assessment must not borrow it.
    outcomes = _asmt_outcomes(
        [_assessment("A-1", "R-1", date(2024, 11, 4), child_id="C-1")],
        _referrals(_referral("R-1", date(2024, 9, 2), child_id="C-2")),
    )
    assert outcomes == UNTIMED


def test_referral_without_a_received_date_cannot_time_an_assessment() -> None:
    # The referral episode exists (e.g. only its decision has arrived) but has no receipt date.
    referral = Referral(episode_id="R-1", child_id=CHILD, team="Front Door")
    outcomes = _asmt_outcomes([_assessment("A-1", "R-1", date(2024, 11, 4))], _referrals(referral))
    assert outcomes == UNTIMED


def test_assessment_not_yet_authorised_is_not_in_the_cohort() -> None:
    outcomes = _asmt_outcomes(
        [_assessment("A-1", "R-1", None)], _referrals(_referral("R-1", date(2024, 9, 2)))
    )
    assert outcomes == []


def test_assessment_authorised_outside_the_period_is_not_counted() -> None:
    # November 2024: A-1 authorised 4 Nov (in), A-2 authorised 2 Dec (out), A-3 authorised
    # 31 Oct (out). Only A-1, in time (day 45), counts: 1 of 1.
    referral = _referral("R-1", date(2024, 9, 2))
    outcomes = _asmt_outcomes(
        [
            _assessment("A-1", "R-1", date(2024, 11, 4)),
            _assessment("A-2", "R-1", date(2024, 12, 2)),
            _assessment("A-3", "R-1", date(2024, 10, 31)),
        ],
        _referrals(referral),
    )
    assert len(outcomes) == 3
    november = Period(PeriodKind.MONTH, date(2024, 11, 1), date(2024, 11, 30))
    assert tally_by_team(outcomes, november) == {
        "North": Tally(numerator=1, denominator=1),
        COUNCIL: Tally(numerator=1, denominator=1),
    }


def test_assessment_tallies_per_team_and_for_the_council() -> None:
    # All referred Mon 2 Sep 2024. North: day 45 (4 Nov, in time) and day 46 (5 Nov, late).
    # South: day 10 (16 Sep, in time). Council: 2 of 3.
    referral = _referral("R-1", date(2024, 9, 2))
    outcomes = _asmt_outcomes(
        [
            _assessment("A-1", "R-1", date(2024, 11, 4), team="North"),
            _assessment("A-2", "R-1", date(2024, 11, 5), team="North"),
            _assessment("A-3", "R-1", date(2024, 9, 16), team="South"),
        ],
        _referrals(referral),
    )
    autumn = Period(PeriodKind.QUARTER, date(2024, 7, 1), date(2024, 12, 31))
    tallies = tally_by_team(outcomes, autumn)
    assert tallies == {
        "North": Tally(1, 2),
        "South": Tally(1, 1),
        COUNCIL: Tally(2, 3),
    }
    assert Figure(*tallies[COUNCIL]).ratio == pytest.approx(2 / 3)


def test_an_empty_tally_has_no_ratio() -> None:
    # 0 of 0 is "no data", not 0%.
    assert Figure().ratio is None
    assert Figure(0, 4).ratio == 0.0


# --- PROC-26W -------------------------------------------------------------------------------


def test_proc_26w_is_higher_is_better() -> None:
    assert PROC_26W.id == "PROC-26W"
    assert PROC_26W.polarity is Polarity.HIGHER_IS_BETTER


def test_proceedings_concluded_on_issue_plus_181_days_are_in_time() -> None:
    # Issued Thu 20 Feb 2025, the issue day being day 1 of 26 weeks (182 days). Day 182 is
    # issue + 181 days: 8 more days to 28 Feb, +31 Mar = 39, +30 Apr = 69, +31 May = 100,
    # +30 Jun = 130, +31 Jul = 161, +20 = 181: Wed 20 Aug 2025.
    # The value is the duration in weeks, 181 days / 7.
    outcomes = outcomes_of(PROC_26W, [_proceedings(date(2025, 2, 20), date(2025, 8, 20))])
    assert outcomes == [
        Outcome(
            "North", date(2025, 8, 20), True, CHILD, "P-1", value=181 / 7, due=date(2025, 8, 20)
        )
    ]


def test_proceedings_concluded_on_issue_plus_182_days_are_late() -> None:
    # Thu 21 Aug 2025 is exactly 26 weeks after Thu 20 Feb 2025: day 183 counting the issue day.
    outcomes = outcomes_of(PROC_26W, [_proceedings(date(2025, 2, 20), date(2025, 8, 21))])
    assert outcomes == [
        Outcome("North", date(2025, 8, 21), False, CHILD, "P-1", value=26, due=date(2025, 8, 20))
    ]


def test_26_weeks_across_a_leap_day_still_ends_on_issue_plus_181_days() -> None:
    # Issued Mon 1 Jan 2024: +30 = 31 Jan, +29 (leap February) = 59, +31 = 90 (31 Mar),
    # +30 = 120 (30 Apr), +31 = 151 (31 May), +30 = 181: Sun 30 Jun 2024 is the last day in time.
    # Mon 1 Jul 2024 (26 weeks on, a Monday again) is late.
    in_time, late = outcomes_of(
        PROC_26W,
        [
            _proceedings(date(2024, 1, 1), date(2024, 6, 30), episode_id="P-1"),
            _proceedings(date(2024, 1, 1), date(2024, 7, 1), episode_id="P-2"),
        ],
    )
    assert (in_time.met, late.met) == (True, False)


def test_a_court_extension_does_not_move_the_26_week_kpi() -> None:
    # An 8-week extension moves the court's deadline, but the KPI still counts against the
    # original 26 weeks: concluded on issue + 182 days is late with or without it, and
    # issue + 181 days is in time with or without it.
    issued = date(2025, 2, 20)
    for weeks in (0, 8, 16):
        late = _proceedings(issued, date(2025, 8, 21), extension_weeks=weeks, episode_id="P-1")
        in_time = _proceedings(issued, date(2025, 8, 20), extension_weeks=weeks, episode_id="P-2")
        assert [o.met for o in outcomes_of(PROC_26W, [late, in_time])] == [False, True]


def test_proceedings_still_running_are_out_and_without_an_issue_date_are_not_met() -> None:
    outcomes = outcomes_of(
        PROC_26W,
        [
            _proceedings(date(2025, 2, 20), None, episode_id="P-1"),  # not concluded yet
            _proceedings(None, date(2025, 8, 20), episode_id="P-2"),  # issue event not arrived
        ],
    )
    # P-2 concluded: in the cohort, not met, with no duration for PROC-WEEKS (section 10.2)
    assert [(o.episode_id, o.met, o.value) for o in outcomes] == [("P-2", False, None)]


def test_proceedings_concluded_outside_the_period_are_not_counted() -> None:
    # August 2025: P-1 concluded 20 Aug (in time) counts; P-2 concluded 1 Sep (late) does not.
    outcomes = outcomes_of(
        PROC_26W,
        [
            _proceedings(date(2025, 2, 20), date(2025, 8, 20), episode_id="P-1"),
            _proceedings(date(2025, 2, 20), date(2025, 9, 1), episode_id="P-2"),
        ],
    )
    august = Period(PeriodKind.MONTH, date(2025, 8, 1), date(2025, 8, 31))
    assert tally_by_team(outcomes, august) == {"North": Tally(1, 1), COUNCIL: Tally(1, 1)}


def test_proceedings_count_once_per_child_on_the_same_application() -> None:
    # Two siblings on one application, concluded late: 0 of 2 (per child).
    outcomes = outcomes_of(
        PROC_26W,
        [
            _proceedings(date(2025, 2, 20), date(2025, 8, 21), child_id="C-1"),
            _proceedings(date(2025, 2, 20), date(2025, 8, 21), child_id="C-2"),
        ],
    )
    august = Period(PeriodKind.MONTH, date(2025, 8, 1), date(2025, 8, 31))
    assert tally_by_team(outcomes, august)[COUNCIL] == Tally(0, 2)


# --- the snapshot ---------------------------------------------------------------------------

# As at Sat 15 Mar 2025 the four periods are:
#   month     1 Mar 2025 - 15 Mar 2025
#   quarter   1 Jan 2025 - 15 Mar 2025
#   year      1 Apr 2024 - 15 Mar 2025
#   rolling  16 Mar 2024 - 15 Mar 2025
AS_AT = date(2025, 3, 15)


def _snapshot_inputs() -> list[AnyEpisode]:
    referrals = _referrals(
        _referral("R-1", date(2025, 3, 3)),
        _referral("R-2", date(2024, 11, 4)),
        _referral("R-3", date(2024, 11, 1)),
        _referral("R-4", date(2024, 3, 4)),
        _referral("R-5", date(2024, 3, 1)),
        _referral("R-6", date(2025, 3, 3)),
    )
    assessments = [
        # Mon 3 Mar -> Mon 10 Mar 2025: 5 wd, in time. In all four periods.
        _assessment("A-1", "R-1", date(2025, 3, 10), team="North"),
        # Mon 4 Nov 2024 -> Mon 3 Feb 2025: 13 weeks = 65 weekdays, less 25 Dec, 26 Dec and
        # 1 Jan = 62 wd, late. In quarter, year and rolling.
        _assessment("A-2", "R-2", date(2025, 2, 3), team="South"),
        # Fri 1 Nov -> Fri 15 Nov 2024: 10 wd, in time. In year and rolling.
        _assessment("A-3", "R-3", date(2024, 11, 15), team="North"),
        # Mon 4 Mar -> Wed 20 Mar 2024: 4 + 5 + 3 = 12 wd, in time. Before 1 Apr 2024, after
        # 16 Mar 2024: in rolling only.
        _assessment("A-4", "R-4", date(2024, 3, 20), team="South"),
        # Fri 1 Mar -> Fri 8 Mar 2024: 5 wd, in time, but before 16 Mar 2024: in no period.
        _assessment("A-5", "R-5", date(2024, 3, 8), team="North"),
        # Authorised Thu 20 Mar 2025, after the as-at date: in no period.
        _assessment("A-6", "R-6", date(2025, 3, 20), team="North"),
        # Referral R-7 never arrived: in all four periods, not met (catalogue section 10.2).
        _assessment("A-7", "R-7", date(2025, 3, 11), team="North"),
    ]
    care_proceedings = [
        # Issued Mon 2 Sep 2024; issue + 181 days = Sun 2 Mar 2025 (28 to 30 Sep, 59 to 31 Oct,
        # 89 to 30 Nov, 120 to 31 Dec, 151 to 31 Jan, 179 to 28 Feb, +2). Concluded Fri 7 Mar
        # 2025: late. In all four periods.
        _proceedings(date(2024, 9, 2), date(2025, 3, 7), team="North", episode_id="P-1"),
        # Same issue date, concluded Fri 28 Feb 2025: in time. In quarter, year and rolling.
        _proceedings(date(2024, 9, 2), date(2025, 2, 28), team="South", episode_id="P-2"),
        # Issued Mon 1 Apr 2024; issue + 181 = Sun 29 Sep 2024 (29 to 30 Apr, 60, 90, 121, 152
        # to 31 Aug, +29). Concluded Thu 26 Sep 2024: in time. In year and rolling.
        _proceedings(date(2024, 4, 1), date(2024, 9, 26), team="North", episode_id="P-3"),
        # Issued Mon 2 Oct 2023; issue + 181 = Sun 31 Mar 2024 (29 to 31 Oct, 59, 90, 121,
        # 150 to 29 Feb 2024, +31). Concluded Tue 26 Mar 2024: in time. In rolling only.
        _proceedings(date(2023, 10, 2), date(2024, 3, 26), team="South", episode_id="P-4"),
        # Still running: in no period.
        _proceedings(date(2025, 1, 6), None, team="South", episode_id="P-5"),
    ]
    return [*assessments, *referrals.values(), *care_proceedings]


@pytest.mark.parametrize(
    ("kind", "council", "north", "south"),
    [
        # month: A-1 (in time), A-7 (no referral)
        (PeriodKind.MONTH, Tally(1, 2), Tally(1, 2), Tally(0, 0)),
        # quarter: A-1 (in time), A-2 (late), A-7
        (PeriodKind.QUARTER, Tally(1, 3), Tally(1, 2), Tally(0, 1)),
        # year to date, A-3 (in time), A-7
        (PeriodKind.FINANCIAL_YEAR_TO_DATE, Tally(2, 4), Tally(2, 3), Tally(0, 1)),
        # rolling 12 months, A-4 (in time), A-7
        (PeriodKind.ROLLING_12_MONTHS, Tally(3, 5), Tally(2, 3), Tally(1, 2)),
    ],
    ids=str,
)
def test_snapshot_asmt_45wd_in_each_period(
    kind: PeriodKind, council: tuple[int, int], north: tuple[int, int], south: tuple[int, int]
) -> None:
    snapshot = compute_snapshot(_snapshot_inputs(), AS_AT)
    assert figure_of(snapshot, "ASMT-45WD", kind) == council
    assert figure_of(snapshot, "ASMT-45WD", kind, "North") == north
    assert figure_of(snapshot, "ASMT-45WD", kind, "South") == south


@pytest.mark.parametrize(
    ("kind", "council", "north", "south"),
    [
        # month: P-1 (late)
        (PeriodKind.MONTH, Tally(0, 1), Tally(0, 1), Tally(0, 0)),
        # quarter: P-1 (late), P-2 (in time)
        (PeriodKind.QUARTER, Tally(1, 2), Tally(0, 1), Tally(1, 1)),
        # year to date: P-1, P-2, P-3 (in time)
        (PeriodKind.FINANCIAL_YEAR_TO_DATE, Tally(2, 3), Tally(1, 2), Tally(1, 1)),
        # rolling 12 months: P-1, P-2, P-3, P-4 (in time)
        (PeriodKind.ROLLING_12_MONTHS, Tally(3, 4), Tally(1, 2), Tally(2, 2)),
    ],
    ids=str,
)
def test_snapshot_proc_26w_in_each_period(
    kind: PeriodKind, council: tuple[int, int], north: tuple[int, int], south: tuple[int, int]
) -> None:
    snapshot = compute_snapshot(_snapshot_inputs(), AS_AT)
    assert figure_of(snapshot, "PROC-26W", kind) == council
    assert figure_of(snapshot, "PROC-26W", kind, "North") == north
    assert figure_of(snapshot, "PROC-26W", kind, "South") == south


def test_snapshot_gives_every_team_a_series_in_every_period() -> None:
    # 2 KPIs x 4 periods x 3 series (North, South, all) = 24 values, South's month shown as
    # 0 of 0 rather than missing, so a dashboard panel shows a zero, not a gap.
    snapshot = compute_snapshot(_snapshot_inputs(), AS_AT)
    assert snapshot.as_at == AS_AT
    keys = [(v.kpi, v.period, v.team) for v in _figures_of_these_kpis(snapshot)]
    assert len(keys) == len(set(keys)) == 24
    assert {team for _, _, team in keys} == {"North", "South", COUNCIL}
    assert ("ASMT-45WD", PeriodKind.MONTH.value, "South") in keys


def test_snapshot_with_no_episodes_has_council_zeros_only() -> None:
    snapshot = compute_snapshot([], AS_AT)
    values = _figures_of_these_kpis(snapshot)
    assert len(values) == 2 * 4
    assert {v.team for v in values} == {COUNCIL}
    assert all((v.figure.numerator, v.figure.denominator) == Tally(0, 0) for v in values)
