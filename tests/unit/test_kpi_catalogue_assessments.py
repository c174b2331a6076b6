"""Assessment KPIs (catalogue section 3): ASMT-45WD, ASMT-45WD-DFE, ASMT-MEDIAN, REPEAT-ASMT.

Working days between a and b: working days d with a < d <= b, Monday to Friday less England and
Wales bank holidays (2025: Good Friday 18 Apr, Easter Monday 21 Apr, early May 5 May).
"""

from __future__ import annotations

from datetime import date

from casetime.events import EventEnvelope
from kpi.domain.data_quality import Check
from tests.support.history import assessment, nd, referral, run

AS_AT = date(2025, 5, 31)


def _may_assessments() -> list[EventEnvelope]:
    return [
        # A1: referral Mon 3 Mar 2025, started Wed 5 Mar, authorised Thu 8 May.
        #   from referral: Mar 4-7 (4), 10-14 (9), 17-21 (14), 24-28 (19), 31 (20),
        #   Apr 1-4 (24), 7-11 (29), 14-17 (33), [18, 21 bank holidays], 22-25 (37),
        #   28-30 (40), May 1-2 (42), [5 May bank holiday], 6-8 (45) -> 45 -> in time
        #   from start: 45 less Mar 4 and 5 -> 43 -> in time
        referral("K1", "R-1", "2025-03-03"),
        *assessment("K1", "A-1", "R-1", "2025-03-05", "2025-05-08"),
        # A2: referral and start Mon 3 Mar, authorised Fri 9 May -> 46 and 46 -> breach
        referral("K2", "R-2", "2025-03-03"),
        *assessment("K2", "A-2", "R-2", "2025-03-03", "2025-05-09", team="South"),
        # A3: referral Tue 1 Apr, started Mon 14 Apr, authorised Mon 12 May.
        #   from referral: Apr 2-4 (3), 7-11 (8), 14-17 (12), 22-25 (16), 28-30 (19),
        #   May 1-2 (21), 6-9 (25), 12 (26) -> 26
        #   from start: Apr 15-17 (3), 22-25 (7), 28-30 (10), May 1-2 (12), 6-9 (16), 12 (17)
        referral("K3", "R-3", "2025-04-01"),
        *assessment("K3", "A-3", "R-3", "2025-04-14", "2025-05-12"),
        # A4: its referral never arrived: in ASMT-45WD's cohort and not met (catalogue section
        #   10.2), listed by data quality; timed as usual on the DfE basis.
        #   from start Tue 1 Apr to Fri 2 May: Apr 2-4 (3), 7-11 (8), 14-17 (12), 22-25 (16),
        #   28-30 (19), May 1-2 (21) -> 21
        *assessment("K4", "A-4", "R-MISSING", "2025-04-01", "2025-05-02"),
        # A5: started, not authorised -> in no figure, an open clock
        referral("K5", "R-5", "2025-05-01"),
        *assessment("K5", "A-5", "R-5", "2025-05-02", None),
    ]


def test_asmt_45wd_counts_from_referral_across_weekends_and_bank_holidays() -> None:
    result = run(_may_assessments(), AS_AT)
    # month May: A1 (45) met, A2 (46) breach, A3 (26) met; A4 has no referral: not met -> 2/4
    assert nd(result.figure("ASMT-45WD", "month")) == (2, 4)
    assert nd(result.figure("ASMT-45WD", "month", "North")) == (2, 3)
    assert nd(result.figure("ASMT-45WD", "month", "South")) == (0, 1)
    breaches = sorted(
        (b.episode_id, b.due, b.counted_on)
        for b in result.breaches
        if b.kpi == "ASMT-45WD" and b.period == "month"
    )
    # A2 due on the 45th working day after 3 Mar, Thu 8 May; A4 has no due date to give
    assert breaches == [
        ("A-2", date(2025, 5, 8), date(2025, 5, 9)),
        ("A-4", None, date(2025, 5, 2)),
    ]
    missing = [i for i in result.issues if i.check is Check.ASSESSMENT_WITHOUT_REFERRAL]
    assert [i.episode_id for i in missing] == ["A-4"]


def test_asmt_45wd_dfe_counts_from_assessment_start() -> None:
    result = run(_may_assessments(), AS_AT)
    # A1 43 met, A2 46 breach, A3 17 met, A4 21 met -> 3/4
    assert nd(result.figure("ASMT-45WD-DFE", "month")) == (3, 4)
    assert nd(result.figure("ASMT-45WD-DFE", "quarter")) == (3, 4)


def test_asmt_median_is_the_median_working_days_from_start() -> None:
    result = run(_may_assessments(), AS_AT)
    # durations 43, 46, 17, 21 -> sorted 17, 21, 43, 46 -> median (21 + 43) / 2 = 32
    figure = result.figure("ASMT-MEDIAN", "month")
    assert figure.denominator == 4
    assert figure.value == 32.0
    # in April nothing was authorised -> no value
    april = run(_may_assessments(), date(2025, 4, 30))
    assert april.figure("ASMT-MEDIAN", "month").value is None


def test_asmt_open_clock_runs_from_referral_until_authorised() -> None:
    result = run(_may_assessments(), AS_AT)
    clocks = [c for c in result.open_clocks if c.clock.kpi == "ASMT-45WD"]
    # only A5 is open; due 45 working days after Thu 1 May 2025:
    # May 2 (1), 6-9 (5), 12-16 (10), 19-23 (15), [26 May bank holiday], 27-30 (19),
    # Jun 2-6 (24), 9-13 (29), 16-20 (34), 23-27 (39), Jun 30 (40), Jul 1-4 (44), Jul 7 (45)
    assert [(c.clock.episode_id, c.clock.due) for c in clocks] == [("A-5", date(2025, 7, 7))]
    assert clocks[0].state == "on_track"


def test_repeat_asmt_counts_an_assessment_completed_in_the_12_months_before_the_start() -> None:
    events = [
        # K1: previous assessment authorised 15 May 2024; new one started 15 May 2025 ->
        #   the 12 months before run from 15 May 2024 -> repeat
        referral("K1", "R-1", "2024-03-01"),
        *assessment("K1", "A-1", "R-1", "2024-03-01", "2024-05-15"),
        referral("K1", "R-2", "2025-05-14"),
        *assessment("K1", "A-2", "R-2", "2025-05-15", None),
        # K2: previous authorised 14 May 2024 -> 12 months and a day before -> not a repeat
        referral("K2", "R-3", "2024-03-01"),
        *assessment("K2", "A-3", "R-3", "2024-03-01", "2024-05-14"),
        referral("K2", "R-4", "2025-05-14"),
        *assessment("K2", "A-4", "R-4", "2025-05-15", None),
        # K3: previous assessment started but never authorised -> not a repeat
        referral("K3", "R-5", "2025-01-09"),
        *assessment("K3", "A-5", "R-5", "2025-01-10", None),
        referral("K3", "R-6", "2025-05-19"),
        *assessment("K3", "A-6", "R-6", "2025-05-20", None),
    ]
    result = run(events, AS_AT)
    # assessments started in May 2025: A-2 repeat, A-4 not, A-6 not -> 1/3
    assert nd(result.figure("REPEAT-ASMT", "month")) == (1, 3)
    # rolling 12 months from 1 Jun 2024 adds A-5 (started 10 Jan 2025, not a repeat) -> 1/4
    assert nd(result.figure("REPEAT-ASMT", "rolling_12_months")) == (1, 4)


def test_asmt_45wd_inclusive_convention_counts_the_referral_day_as_day_1() -> None:
    # A council counting inclusively: Mon 3 Mar is day 1, so A1's 45 becomes 46 -> breach;
    # A2 46 -> 47 breach; A3 26 -> 27 in time; A4 (no referral) not met -> 1/4
    result = run(_may_assessments(), AS_AT, working_day_convention="inclusive")
    assert nd(result.figure("ASMT-45WD", "month")) == (1, 4)
