"""Front door KPIs (catalogue section 3): CONTACT-72H, REF-DECISION, STRAT-48H, STRAT-PARTNERS,
REREFERRAL-12M. Built as events, folded by casebook_from_events, evaluated as at a date.

Hour clocks are elapsed time between timestamps in Europe/London; a date-only start is 00:00
and a date-only end 23:59:59 (catalogue section 1).
"""

from __future__ import annotations

from datetime import date

from kpi.domain.data_quality import Check
from tests.support.history import (
    contact,
    nd,
    referral,
    referral_decision,
    run,
    strategy,
)


def test_contact_72h_counts_decisions_in_period_and_72_hours_exactly_is_in_time() -> None:
    events = [
        # C1: 09:00 Mon 6 Jan to 09:00 Thu 9 Jan = exactly 72 h -> in time
        *contact("K1", "CON-1", "2025-01-06T09:00:00+00:00", "2025-01-09T09:00:00+00:00"),
        # C2: one second later -> 72 h 0 m 1 s -> breach
        *contact("K2", "CON-2", "2025-01-06T09:00:00+00:00", "2025-01-09T09:00:01+00:00"),
        # C3: date-only 13 Jan 00:00 to date-only 15 Jan 23:59:59 = 71 h 59 m 59 s -> in time
        *contact("K3", "CON-3", "2025-01-13", "2025-01-15"),
        # C4: received 30 Dec 10:00, decided 2 Jan 12:00 = 74 h -> breach, counted on 2 Jan
        *contact("K4", "CON-4", "2024-12-30T10:00:00+00:00", "2025-01-02T12:00:00+00:00"),
        # C5: decided 3 Feb, after the as-at date -> not counted anywhere
        *contact("K5", "CON-5", "2025-01-28T10:00:00+00:00", "2025-02-03T10:00:00+00:00"),
        # C6: decided 20 Dec 2024 within 1 h -> in time; in the financial year, not the month
        *contact("K6", "CON-6", "2024-12-20T10:00:00+00:00", "2024-12-20T11:00:00+00:00"),
        # C7: received, not decided -> not in the cohort (contact decisions in period)
        *contact("K7", "CON-7", "2025-01-20T10:00:00+00:00", None),
    ]
    result = run(events, date(2025, 1, 31))
    # month Jan 2025: C1, C3 met; C2, C4 breach -> 2/4
    assert nd(result.figure("CONTACT-72H", "month")) == (2, 4)
    assert result.figure("CONTACT-72H", "month").value == 0.5
    # quarter Jan-Mar 2025: the same four -> 2/4
    assert nd(result.figure("CONTACT-72H", "quarter")) == (2, 4)
    # financial year from 1 Apr 2024: C6 as well -> 3/5
    assert nd(result.figure("CONTACT-72H", "financial_year_to_date")) == (3, 5)
    assert nd(result.figure("CONTACT-72H", "rolling_12_months")) == (3, 5)
    # the team total equals the council total here (all in North)
    assert nd(result.figure("CONTACT-72H", "month", "North")) == (2, 4)
    breached = {b.episode_id for b in result.breaches if b.kpi == "CONTACT-72H"}
    assert breached == {"CON-2", "CON-4"}
    # C3 was timed from dates only: flagged, not dropped
    date_only = {i.episode_id for i in result.issues if i.check is Check.DATE_ONLY_HOUR_CLOCK}
    assert date_only == {"CON-3"}


def test_contact_72h_is_elapsed_time_across_the_spring_clock_change() -> None:
    # Received 12:00 GMT Fri 28 Mar 2025; decided 13:00 BST Mon 31 Mar = 12:00 UTC.
    # Elapsed: exactly 72 h (the wall clock shows 73 h) -> in time.
    events = contact("K1", "CON-1", "2025-03-28T12:00:00+00:00", "2025-03-31T13:00:00+01:00")
    result = run(events, date(2025, 3, 31))
    assert nd(result.figure("CONTACT-72H", "month")) == (1, 1)


def test_contact_72h_date_only_clock_across_the_autumn_clock_change_is_elapsed_time() -> None:
    # Date-only received Fri 25 Oct 2024 = 00:00 BST = 24 Oct 23:00 UTC.
    # Date-only decided Sun 27 Oct 2024 = 23:59:59 GMT = 27 Oct 23:59:59 UTC.
    # Elapsed: 72 h 59 m 59 s (the clocks went back an hour on 27 Oct) -> breach.
    # PRODUCTION BUG: both instants carry the same ZoneInfo, so Python subtracts wall-clock
    # times (71 h 59 m 59 s) and the contact is counted in time.
    events = contact("K1", "CON-1", "2024-10-25", "2024-10-27")
    result = run(events, date(2024, 10, 31))
    assert nd(result.figure("CONTACT-72H", "month")) == (0, 1)


def test_ref_decision_is_24_hours_by_default_and_1_working_day_when_configured() -> None:
    events = [
        # R1: 16:00 Fri 10 Jan to 16:00 Sat 11 Jan = 24 h exactly -> hours: met.
        #     working days: wd_between(Fri 10, Sat 11) = 0 -> met
        referral("K1", "REF-1", "2025-01-10T16:00:00+00:00"),
        referral_decision("K1", "REF-1", "2025-01-11T16:00:00+00:00"),
        # R2: 16:00 Fri 10 Jan to 09:00 Mon 13 Jan = 65 h -> hours: breach.
        #     working days: Sat, Sun skipped; Mon 13 -> 1 -> met
        referral("K2", "REF-2", "2025-01-10T16:00:00+00:00"),
        referral_decision("K2", "REF-2", "2025-01-13T09:00:00+00:00"),
        # R3: 10:00 Thu 17 Apr to 09:00 Tue 22 Apr 2025 = 119 h -> hours: breach.
        #     working days: Good Friday 18, weekend, Easter Monday 21 skipped; Tue 22 -> 1 -> met
        referral("K3", "REF-3", "2025-04-17T10:00:00+01:00"),
        referral_decision("K3", "REF-3", "2025-04-22T09:00:00+01:00"),
        # R4: received, never decided -> not in the cohort
        referral("K4", "REF-4", "2025-04-28T10:00:00+01:00"),
    ]
    as_at = date(2025, 4, 30)
    hours = run(events, as_at)
    # month Apr 2025: R3 -> 0/1; rolling 12 months from 1 May 2024: R1, R2, R3 -> 1/3
    assert nd(hours.figure("REF-DECISION", "month")) == (0, 1)
    assert nd(hours.figure("REF-DECISION", "rolling_12_months")) == (1, 3)
    # quarter Apr-Jun 2025 and year to date from 1 Apr 2025: R3 only -> 0/1
    assert nd(hours.figure("REF-DECISION", "quarter")) == (0, 1)
    assert nd(hours.figure("REF-DECISION", "financial_year_to_date")) == (0, 1)

    working_day = run(events, as_at, referral_decision_basis="working_day")
    assert nd(working_day.figure("REF-DECISION", "month")) == (1, 1)
    assert nd(working_day.figure("REF-DECISION", "rolling_12_months")) == (3, 3)


def test_strat_48h_counts_the_first_discussion_per_referral_and_partners_counts_every_one() -> None:
    events = [
        # referral RF1 09:00 Mon 3 Feb; SD1 09:00 Wed 5 Feb = 48 h exactly -> in time
        referral("K1", "RF-1", "2025-02-03T09:00:00+00:00"),
        strategy("K1", "SD-1", "2025-02-05T09:00:00+00:00", "RF-1"),
        # SD2: a second discussion for RF1 -> not the first, out of STRAT-48H's cohort
        strategy("K1", "SD-2", "2025-02-06T09:00:00+00:00", "RF-1", ("police", "health", "other")),
        # referral RF2 17:00 Fri 7 Feb; SD3 09:00 Mon 10 Feb = 64 h -> breach
        referral("K2", "RF-2", "2025-02-07T17:00:00+00:00"),
        strategy(
            "K2",
            "SD-3",
            "2025-02-10T09:00:00+00:00",
            "RF-2",
            ("police", "health", "education", "other"),
        ),
        # SD4: its referral never arrived -> in the cohort, not met (catalogue section 10.2)
        strategy("K3", "SD-4", "2025-02-12T09:00:00+00:00", "RF-X", ("police", "education")),
    ]
    result = run(events, date(2025, 2, 28))
    # STRAT-48H, month Feb: SD1 met, SD3 breach, SD4 not met -> 1/3
    assert nd(result.figure("STRAT-48H", "month")) == (1, 3)
    assert [
        b.episode_id for b in result.breaches if b.kpi == "STRAT-48H" and b.period == "month"
    ] == ["SD-3", "SD-4"]
    missing = [i for i in result.issues if i.check is Check.STRATEGY_DISCUSSION_WITHOUT_REFERRAL]
    assert [i.episode_id for i in missing] == ["SD-4"]
    # STRAT-PARTNERS, month Feb: SD1 (all three) met, SD2 (no education) not, SD3 (all three
    # and other) met, SD4 (no health) not -> 2/4
    assert nd(result.figure("STRAT-PARTNERS", "month")) == (2, 4)


def test_rereferral_12m_counts_a_referral_exactly_12_months_before_but_not_a_day_more() -> None:
    events = [
        # child A: 10 May 2024 and 10 May 2025 -> previous referral on the first day of the
        # 12 months before (10 May 2024 to 9 May 2025) -> re-referral
        referral("A", "RA-1", "2024-05-10"),
        referral("A", "RA-2", "2025-05-10"),
        # child B: 9 May 2024 and 10 May 2025 -> 12 months and a day -> not a re-referral
        referral("B", "RB-1", "2024-05-09"),
        referral("B", "RB-2", "2025-05-10"),
        # child C: first referral -> not
        referral("C", "RC-1", "2025-05-20"),
    ]
    result = run(events, date(2025, 5, 31))
    # month May 2025: RA-2 yes, RB-2 no, RC-1 no -> 1/3
    assert nd(result.figure("REREFERRAL-12M", "month")) == (1, 3)
    # rolling 12 months from 1 Jun 2024: the 2024 referrals are outside -> still 1/3
    assert nd(result.figure("REREFERRAL-12M", "rolling_12_months")) == (1, 3)
    # financial year 2024-25 as at 31 Mar 2025 holds RA-1 and RB-1, both first referrals -> 0/2
    earlier = run(events, date(2025, 3, 31))
    assert nd(earlier.figure("REREFERRAL-12M", "financial_year_to_date")) == (0, 2)
