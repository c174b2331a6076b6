"""Reporting periods ending on an as-at date; the reporting year runs 1 April to 31 March."""

from __future__ import annotations

from datetime import date

import pytest

from kpi.domain.periods import (
    Period,
    PeriodKind,
    add_months,
    earliest_start,
    financial_year_start,
    period_ending,
    periods_ending,
)

# --- month ----------------------------------------------------------------------------------


def test_month_runs_from_the_first_to_the_as_at_date() -> None:
    assert period_ending(PeriodKind.MONTH, date(2025, 1, 15)) == Period(
        PeriodKind.MONTH, date(2025, 1, 1), date(2025, 1, 15)
    )


def test_month_on_its_first_day_is_one_day_long() -> None:
    period = period_ending(PeriodKind.MONTH, date(2025, 4, 1))
    assert (period.start, period.end) == (date(2025, 4, 1), date(2025, 4, 1))


# --- quarter (financial quarters share calendar quarter bounds) -----------------------------


@pytest.mark.parametrize(
    ("as_at", "start"),
    [
        (date(2025, 2, 10), date(2025, 1, 1)),  # Q4 of 2024-25: Jan-Mar
        (date(2025, 3, 31), date(2025, 1, 1)),  # last day of Q4
        (date(2025, 4, 1), date(2025, 4, 1)),  # first day of Q1 of 2025-26: Apr-Jun
        (date(2025, 6, 30), date(2025, 4, 1)),  # last day of Q1
        (date(2024, 7, 1), date(2024, 7, 1)),  # first day of Q2: Jul-Sep
        (date(2024, 9, 30), date(2024, 7, 1)),
        (date(2024, 11, 5), date(2024, 10, 1)),  # Q3: Oct-Dec
        (date(2024, 12, 31), date(2024, 10, 1)),
    ],
    ids=str,
)
def test_quarter_starts_on_the_first_day_of_its_quarter(as_at: date, start: date) -> None:
    assert period_ending(PeriodKind.QUARTER, as_at) == Period(PeriodKind.QUARTER, start, as_at)


# --- financial year to date -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_at", "start"),
    [
        (date(2025, 1, 15), date(2024, 4, 1)),  # January belongs to the year that began last April
        (date(2025, 3, 31), date(2024, 4, 1)),  # 31 March is the year's last day
        (date(2025, 4, 1), date(2025, 4, 1)),  # 1 April starts a new year
        (date(2025, 4, 30), date(2025, 4, 1)),
        (date(2024, 12, 31), date(2024, 4, 1)),  # calendar year end is mid-year
        (date(2024, 2, 29), date(2023, 4, 1)),
    ],
    ids=str,
)
def test_financial_year_to_date_starts_on_the_last_1_april(as_at: date, start: date) -> None:
    assert financial_year_start(as_at) == start
    assert period_ending(PeriodKind.FINANCIAL_YEAR_TO_DATE, as_at) == Period(
        PeriodKind.FINANCIAL_YEAR_TO_DATE, start, as_at
    )


# --- rolling 12 months ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("as_at", "start"),
    [
        # Mid-month: the day after the same date a year earlier.
        (date(2025, 3, 15), date(2024, 3, 16)),
        (date(2025, 1, 1), date(2024, 1, 2)),
        # 1 March 2025: a year earlier is 1 March 2024, so the window opens on 2 March 2024.
        (date(2025, 3, 1), date(2024, 3, 2)),
        # 28 Feb 2024 (not the month end in a leap year): a year earlier is 28 Feb 2023, so
        # 1 Mar 2023 to 28 Feb 2024, 365 days.
        (date(2024, 2, 28), date(2023, 3, 1)),
    ],
    ids=str,
)
def test_rolling_12_months_opens_the_day_after_the_as_at_date_a_year_earlier(
    as_at: date, start: date
) -> None:
    assert period_ending(PeriodKind.ROLLING_12_MONTHS, as_at) == Period(
        PeriodKind.ROLLING_12_MONTHS, start, as_at
    )


@pytest.mark.parametrize(
    ("as_at", "start"),
    [
        (date(2025, 3, 31), date(2024, 4, 1)),  # the financial year 2024-25
        (date(2024, 12, 31), date(2024, 1, 1)),  # the calendar year 2024
        (date(2025, 4, 30), date(2024, 5, 1)),
        (date(2024, 11, 30), date(2023, 12, 1)),
        # 29 Feb 2024 (leap day): March 2023 to February 2024.
        (date(2024, 2, 29), date(2023, 3, 1)),
        # 28 Feb 2025, the end of February after a leap year: March 2024 to February 2025.
        # A window opening on 29 Feb 2024 would be 12 months and a day (366 days): 29 Feb 2024
        # would count in both the year to February 2024 and the year to February 2025.
        (date(2025, 2, 28), date(2024, 3, 1)),
    ],
    ids=str,
)
def test_rolling_12_months_at_a_month_end_is_the_last_12_whole_months(
    as_at: date, start: date
) -> None:
    assert period_ending(PeriodKind.ROLLING_12_MONTHS, as_at).start == start


# --- periods together -----------------------------------------------------------------------


def test_periods_ending_gives_all_four_kinds_ending_on_the_as_at_date() -> None:
    # As at Sat 15 Mar 2025: month from 1 Mar, quarter from 1 Jan, year from 1 Apr 2024,
    # rolling 12 months from 16 Mar 2024.
    as_at = date(2025, 3, 15)
    assert periods_ending(as_at) == (
        Period(PeriodKind.MONTH, date(2025, 3, 1), as_at),
        Period(PeriodKind.QUARTER, date(2025, 1, 1), as_at),
        Period(PeriodKind.FINANCIAL_YEAR_TO_DATE, date(2024, 4, 1), as_at),
        Period(PeriodKind.ROLLING_12_MONTHS, date(2024, 3, 16), as_at),
    )


def test_earliest_start_is_the_financial_year_start_late_in_the_year() -> None:
    # As at 15 Mar 2025 the year to date (from 1 Apr 2024) is shorter than rolling 12 months
    # (from 16 Mar 2024), so the rolling window is the widest.
    assert earliest_start(date(2025, 3, 15)) == date(2024, 3, 16)
    # As at 31 Mar 2025 both open on 1 Apr 2024.
    assert earliest_start(date(2025, 3, 31)) == date(2024, 4, 1)


def test_period_contains_both_ends_and_nothing_outside() -> None:
    period = Period(PeriodKind.MONTH, date(2025, 3, 1), date(2025, 3, 15))
    assert date(2025, 3, 1) in period
    assert date(2025, 3, 15) in period
    assert date(2025, 2, 28) not in period
    assert date(2025, 3, 16) not in period
    assert "2025-03-10" not in period


# --- add_months -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2024, 1, 31), 1, date(2024, 2, 29)),  # leap year: February has 29 days
        (date(2025, 1, 31), 1, date(2025, 2, 28)),  # common year: clamped to 28
        (date(2024, 2, 29), -12, date(2023, 2, 28)),  # a leap day a year back is 28 Feb
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),  # four years on is a leap day again
        (date(2025, 3, 31), -1, date(2025, 2, 28)),
        (date(2024, 10, 31), 1, date(2024, 11, 30)),  # November has 30 days
        (date(2024, 8, 31), 6, date(2025, 2, 28)),
        (date(2024, 11, 15), 2, date(2025, 1, 15)),  # forward across a year end
        (date(2025, 1, 15), -1, date(2024, 12, 15)),  # back across a year end
        (date(2024, 12, 31), 0, date(2024, 12, 31)),
        (date(2024, 12, 31), 12, date(2025, 12, 31)),  # December stays December
        (date(2025, 6, 30), -18, date(2023, 12, 30)),
    ],
    ids=str,
)
def test_add_months_moves_calendar_months_and_clamps_to_the_month_end(
    day: date, months: int, expected: date
) -> None:
    assert add_months(day, months) == expected
