"""Working days in England (catalogue section 1).

Every expected count was worked out by hand from a printed calendar; the comment beside each one
lists the days that count.
"""

from __future__ import annotations

from datetime import date, timedelta

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kpi.domain.calendar import (
    WorkingDayCalendar,
    WorkingDayConvention,
    england_bank_holidays,
    england_calendar,
)

EXCLUSIVE = england_calendar()
INCLUSIVE = england_calendar(WorkingDayConvention.INCLUSIVE)

# The oracle for the property tests comes straight from the holiday library, not from
# england_bank_holidays(), so the two code paths stay independent.
_ORACLE_YEARS = range(2014, 2032)
_ORACLE_HOLIDAYS = frozenset(
    holidays.country_holidays("GB", subdiv="ENG", years=_ORACLE_YEARS).keys()
)


def _naive_is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _ORACLE_HOLIDAYS


def _naive_working_days_between(start: date, end: date, *, inclusive: bool) -> int:
    """Walks the calendar one day at a time.

    From start to a later end, count the working days d with start < d <= end (inclusive:
    start <= d <= end). When end is before start, count the working days d with end < d <= start
    and negate. Under both conventions the count is then minus the exclusive count from end back to
    start, which is what the production docstring says ("negative when end is before start").
    """
    if end < start:
        return -_naive_working_days_between(end, start, inclusive=False)
    day = start if inclusive else start + timedelta(days=1)
    count = 0
    while day <= end:
        count += _naive_is_working_day(day)
        day += timedelta(days=1)
    return count


# --- the working-day rule -------------------------------------------------------------------


def test_saturday_and_sunday_are_not_working_days() -> None:
    # 4 and 5 January 2025 were a Saturday and a Sunday, 6 January 2025 a Monday.
    assert not EXCLUSIVE.is_working_day(date(2025, 1, 4))
    assert not EXCLUSIVE.is_working_day(date(2025, 1, 5))
    assert EXCLUSIVE.is_working_day(date(2025, 1, 6))


@pytest.mark.parametrize(
    ("day", "why"),
    [
        (date(2022, 9, 19), "state funeral of Queen Elizabeth II (one-off)"),
        (date(2023, 5, 8), "coronation of King Charles III (one-off)"),
        (date(2022, 6, 3), "Platinum Jubilee (one-off)"),
        (date(2022, 6, 2), "spring bank holiday moved to Thursday 2 June 2022"),
        (date(2025, 4, 18), "Good Friday 2025"),
        (date(2025, 4, 21), "Easter Monday 2025"),
        (date(2024, 12, 25), "Christmas Day 2024 (Wednesday)"),
        (date(2024, 12, 26), "Boxing Day 2024 (Thursday)"),
        (date(2025, 1, 1), "New Year's Day 2025 (Wednesday)"),
        (date(2022, 12, 27), "substitute day for Christmas Day 2022, which fell on a Sunday"),
        (date(2023, 1, 2), "substitute day for New Year's Day 2023, which fell on a Sunday"),
        (date(2025, 8, 25), "summer bank holiday 2025 (England, not Scotland)"),
    ],
)
def test_england_bank_holidays_are_not_working_days(day: date, why: str) -> None:
    assert day.weekday() < 5, "each case is a weekday, so only the holiday list can exclude it"
    assert not EXCLUSIVE.is_working_day(day), why


def test_scottish_only_bank_holidays_are_working_days_in_england() -> None:
    # 2 January 2025 (Thursday) and St Andrew's Day substitute Monday 1 December 2025 are Scottish
    # bank holidays only; 4 August 2025 is Scotland's summer holiday, England's is 25 August.
    for day in (date(2025, 1, 2), date(2025, 12, 1), date(2025, 8, 4)):
        assert EXCLUSIVE.is_working_day(day), day


def test_one_off_bank_holidays_come_from_the_library_list() -> None:
    bank_holidays = england_bank_holidays()
    assert date(2022, 9, 19) in bank_holidays
    assert date(2023, 5, 8) in bank_holidays


def test_the_calendar_uses_only_the_holidays_it_is_given() -> None:
    # Pure: with no holidays handed in, Christmas Day 2024 (Wednesday) is a working day, and
    # Tuesday 24 Dec -> Friday 27 Dec 2024 counts Wed 25, Thu 26, Fri 27 = 3.
    bare = WorkingDayCalendar([])
    assert bare.is_working_day(date(2024, 12, 25))
    assert bare.working_days_between(date(2024, 12, 24), date(2024, 12, 27)) == 3
    # With England's holidays the same span counts only Fri 27 = 1.
    assert EXCLUSIVE.working_days_between(date(2024, 12, 24), date(2024, 12, 27)) == 1


# --- working days between (exclusive: the start day is day 0) -------------------------------


def test_same_day_is_zero_working_days() -> None:
    # A weekday, a Saturday and a bank holiday: the start day never counts.
    assert EXCLUSIVE.working_days_between(date(2025, 1, 8), date(2025, 1, 8)) == 0
    assert EXCLUSIVE.working_days_between(date(2025, 1, 4), date(2025, 1, 4)) == 0
    assert EXCLUSIVE.working_days_between(date(2024, 12, 25), date(2024, 12, 25)) == 0


def test_friday_to_monday_is_one_working_day() -> None:
    # Fri 10 Jan 2025 -> Mon 13 Jan 2025: Sat and Sun do not count, Mon does = 1.
    assert EXCLUSIVE.working_days_between(date(2025, 1, 10), date(2025, 1, 13)) == 1


def test_monday_to_next_monday_is_five_working_days() -> None:
    # Mon 6 Jan -> Mon 13 Jan 2025: Tue, Wed, Thu, Fri, Mon = 5.
    assert EXCLUSIVE.working_days_between(date(2025, 1, 6), date(2025, 1, 13)) == 5


def test_weekend_start_counts_from_monday() -> None:
    # Sat 4 Jan -> Wed 8 Jan 2025: Mon 6, Tue 7, Wed 8 = 3.
    assert EXCLUSIVE.working_days_between(date(2025, 1, 4), date(2025, 1, 8)) == 3
    # Sat 4 Jan -> Sun 5 Jan 2025: nothing = 0.
    assert EXCLUSIVE.working_days_between(date(2025, 1, 4), date(2025, 1, 5)) == 0


def test_friday_before_queens_funeral_to_tuesday_is_one_working_day() -> None:
    # Fri 16 Sep 2022 -> Tue 20 Sep 2022: Sat, Sun, Mon 19 (funeral) do not count; Tue = 1.
    assert EXCLUSIVE.working_days_between(date(2022, 9, 16), date(2022, 9, 20)) == 1


def test_coronation_week_loses_its_monday() -> None:
    # Fri 5 May 2023 -> Fri 12 May 2023: Mon 8 (coronation) is out; Tue, Wed, Thu, Fri = 4.
    assert EXCLUSIVE.working_days_between(date(2023, 5, 5), date(2023, 5, 12)) == 4


def test_christmas_boxing_day_and_new_year_2024_are_skipped() -> None:
    # Tue 24 Dec 2024 -> Thu 2 Jan 2025:
    # Wed 25 (Christmas) no, Thu 26 (Boxing Day) no, Fri 27 = 1, Sat 28 / Sun 29 no,
    # Mon 30 = 2, Tue 31 = 3, Wed 1 Jan (New Year) no, Thu 2 Jan = 4.
    assert EXCLUSIVE.working_days_between(date(2024, 12, 24), date(2025, 1, 2)) == 4


def test_christmas_2022_on_a_sunday_moves_to_substitute_days() -> None:
    # Fri 23 Dec 2022 -> Wed 4 Jan 2023:
    # Sat 24, Sun 25 no; Mon 26 (Boxing Day) no; Tue 27 (Christmas substitute) no;
    # Wed 28 = 1, Thu 29 = 2, Fri 30 = 3; Sat 31, Sun 1 Jan no; Mon 2 Jan (New Year
    # substitute) no; Tue 3 = 4, Wed 4 = 5.
    assert EXCLUSIVE.working_days_between(date(2022, 12, 23), date(2023, 1, 4)) == 5


def test_easter_2025_takes_out_good_friday_and_easter_monday() -> None:
    # Thu 17 Apr 2025 -> Tue 22 Apr 2025: Fri 18 (Good Friday), Sat, Sun, Mon 21 (Easter Monday)
    # do not count; Tue 22 = 1.
    assert EXCLUSIVE.working_days_between(date(2025, 4, 17), date(2025, 4, 22)) == 1
    # Across the whole of April 2025: Mon 31 Mar -> Wed 30 Apr. April has 22 weekdays
    # (1-4, 7-11, 14-18, 21-25, 28-30 = 4+5+5+5+3), less Good Friday and Easter Monday = 20.
    assert EXCLUSIVE.working_days_between(date(2025, 3, 31), date(2025, 4, 30)) == 20


def test_end_before_start_is_negative() -> None:
    # Mon 13 Jan -> Fri 10 Jan 2025: the Monday is the only working day in (Fri, Mon] = -1.
    assert EXCLUSIVE.working_days_between(date(2025, 1, 13), date(2025, 1, 10)) == -1
    # Tue 22 Apr -> Thu 17 Apr 2025: across Easter only Tue 22 lies in (Thu, Tue] = -1.
    assert EXCLUSIVE.working_days_between(date(2025, 4, 22), date(2025, 4, 17)) == -1
    # Mon 13 Jan -> Mon 6 Jan 2025: Tue 7 .. Mon 13 = -5.
    assert EXCLUSIVE.working_days_between(date(2025, 1, 13), date(2025, 1, 6)) == -5


# --- the inclusive convention (start day is day 1) ------------------------------------------


def test_inclusive_same_working_day_is_day_one() -> None:
    assert INCLUSIVE.working_days_between(date(2025, 1, 8), date(2025, 1, 8)) == 1


def test_inclusive_adds_the_start_day_when_it_is_a_working_day() -> None:
    # Mon 6 Jan -> Fri 10 Jan 2025: Mon, Tue, Wed, Thu, Fri = 5 (exclusive: 4).
    assert INCLUSIVE.working_days_between(date(2025, 1, 6), date(2025, 1, 10)) == 5
    assert EXCLUSIVE.working_days_between(date(2025, 1, 6), date(2025, 1, 10)) == 4


def test_inclusive_does_not_count_a_weekend_or_holiday_start() -> None:
    # Sat 4 Jan -> Mon 6 Jan 2025: Saturday is not a working day, so only Mon = 1.
    assert INCLUSIVE.working_days_between(date(2025, 1, 4), date(2025, 1, 6)) == 1
    # Sat 4 Jan -> Sat 4 Jan 2025: 0.
    assert INCLUSIVE.working_days_between(date(2025, 1, 4), date(2025, 1, 4)) == 0
    # Mon 19 Sep 2022 (funeral) -> Tue 20 Sep 2022: only Tue = 1.
    assert INCLUSIVE.working_days_between(date(2022, 9, 19), date(2022, 9, 20)) == 1


# --- due dates ------------------------------------------------------------------------------


def test_due_date_of_45_working_days_with_no_holiday_is_nine_weeks_later() -> None:
    # Mon 2 Sep 2024: no bank holiday until Christmas, so 45 working days = 9 full weeks,
    # the 45th is Mon 4 Nov 2024 (2 Sep + 63 days).
    assert EXCLUSIVE.add_working_days(date(2024, 9, 2), 45) == date(2024, 11, 4)


def test_due_date_of_45_working_days_across_easter_and_early_may() -> None:
    # Mon 3 Mar 2025 + 9 weeks would be Mon 5 May, itself a bank holiday. (3 Mar, 2 May] has
    # 44 weekdays, less Good Friday 18 Apr and Easter Monday 21 Apr = 42; then Tue 6 May = 43,
    # Wed 7 May = 44, Thu 8 May = 45.
    assert EXCLUSIVE.add_working_days(date(2025, 3, 3), 45) == date(2025, 5, 8)


def test_due_date_of_one_working_day_skips_a_bank_holiday() -> None:
    # Fri 16 Sep 2022 + 1 working day: Mon 19 is the funeral, so Tue 20 Sep.
    assert EXCLUSIVE.add_working_days(date(2022, 9, 16), 1) == date(2022, 9, 20)
    # Thu 17 Apr 2025 + 1: Good Friday, weekend, Easter Monday, so Tue 22 Apr.
    assert EXCLUSIVE.add_working_days(date(2025, 4, 17), 1) == date(2025, 4, 22)
    # Tue 24 Dec 2024 + 2: Fri 27 is the 1st, Mon 30 the 2nd.
    assert EXCLUSIVE.add_working_days(date(2024, 12, 24), 2) == date(2024, 12, 30)


def test_due_date_of_zero_working_days_is_the_start_day() -> None:
    assert EXCLUSIVE.add_working_days(date(2025, 1, 4), 0) == date(2025, 1, 4)


def test_inclusive_due_date_counts_the_start_day_as_day_one() -> None:
    # Mon 6 Jan 2025 is day 1, so "within 1 working day" is due the same day and
    # "within 5" on Fri 10 Jan.
    assert INCLUSIVE.add_working_days(date(2025, 1, 6), 1) == date(2025, 1, 6)
    assert INCLUSIVE.add_working_days(date(2025, 1, 6), 5) == date(2025, 1, 10)
    # Sat 4 Jan is not a working day: day 1 is Mon 6 Jan.
    assert INCLUSIVE.add_working_days(date(2025, 1, 4), 1) == date(2025, 1, 6)


def test_due_date_refuses_a_negative_number_of_days() -> None:
    with pytest.raises(ValueError, match="negative"):
        EXCLUSIVE.add_working_days(date(2025, 1, 6), -1)


# --- property checks against a day-by-day walk ----------------------------------------------

_DATES = st.dates(min_value=date(2015, 1, 1), max_value=date(2030, 12, 31))


@settings(max_examples=300, deadline=None)
@given(start=_DATES, end=_DATES)
def test_exclusive_count_matches_a_day_by_day_walk(start: date, end: date) -> None:
    expected = _naive_working_days_between(start, end, inclusive=False)
    assert EXCLUSIVE.working_days_between(start, end) == expected


@settings(max_examples=300, deadline=None)
@given(start=_DATES, end=_DATES)
def test_inclusive_count_matches_a_day_by_day_walk(start: date, end: date) -> None:
    expected = _naive_working_days_between(start, end, inclusive=True)
    assert INCLUSIVE.working_days_between(start, end) == expected


@settings(max_examples=300, deadline=None)
@given(start=_DATES, span=st.integers(min_value=-40, max_value=40))
def test_short_spans_match_a_day_by_day_walk(start: date, span: int) -> None:
    # Random pairs over 16 years are mostly long; this one dwells on the weekends and holidays
    # near the start date.
    end = start + timedelta(days=span)
    assert EXCLUSIVE.working_days_between(start, end) == _naive_working_days_between(
        start, end, inclusive=False
    )
    assert INCLUSIVE.working_days_between(start, end) == _naive_working_days_between(
        start, end, inclusive=True
    )


@settings(max_examples=200, deadline=None)
@given(
    start=st.dates(min_value=date(1985, 1, 1), max_value=date(1995, 12, 31)),
    end=st.dates(min_value=date(1985, 1, 1), max_value=date(1995, 12, 31)),
    days_off=st.frozensets(
        st.dates(min_value=date(1985, 1, 1), max_value=date(1995, 12, 31)), max_size=40
    ),
)
def test_any_holiday_list_counts_like_a_day_by_day_walk_either_side_of_1990(
    start: date, end: date, days_off: frozenset[date]
) -> None:
    # The prefix count starts at 1 Jan 1990; dates on both sides of it, with holidays handed
    # in (some on weekends), must count the same as walking the days.
    calendar = WorkingDayCalendar(days_off)
    low, high = min(start, end), max(start, end)
    walked = sum(
        1
        for i in range(1, (high - low).days + 1)
        if (d := low + timedelta(days=i)).weekday() < 5 and d not in days_off
    )
    assert calendar.working_days_between(start, end) == (walked if end >= start else -walked)


@settings(max_examples=200, deadline=None)
@given(start=_DATES, n=st.integers(min_value=1, max_value=120))
def test_due_date_is_the_nth_working_day_after_the_start(start: date, n: int) -> None:
    for calendar in (EXCLUSIVE, INCLUSIVE):
        due = calendar.add_working_days(start, n)
        inclusive = calendar.convention is WorkingDayConvention.INCLUSIVE
        # The due date is a working day, exactly n working days on, and the first such day.
        assert _naive_is_working_day(due)
        assert _naive_working_days_between(start, due, inclusive=inclusive) == n
        assert calendar.working_days_between(start, due) == n
        day_before = due - timedelta(days=1)
        if day_before >= start:
            assert _naive_working_days_between(start, day_before, inclusive=inclusive) == n - 1


@given(
    start=st.dates(min_value=date(2000, 1, 1), max_value=date(2039, 1, 1)),
    n=st.integers(min_value=0, max_value=400),
    convention=st.sampled_from(list(WorkingDayConvention)),
)
def test_due_date_agrees_with_stepping_day_by_day(
    start: date, n: int, convention: WorkingDayConvention
) -> None:
    calendar = england_calendar(convention)
    remaining = n - (
        convention is WorkingDayConvention.INCLUSIVE and calendar.is_working_day(start)
    )
    day = start
    while remaining > 0:
        day += timedelta(days=1)
        remaining -= calendar.is_working_day(day)
    assert calendar.add_working_days(start, n) == day
