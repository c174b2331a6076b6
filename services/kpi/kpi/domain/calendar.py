"""Working days in England (catalogue section 1). Pure: the holiday list is data handed in."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import date, timedelta
from enum import StrEnum
from functools import cache

import holidays

# The dates the service's calendar holds in a table (and the bank holidays it knows): events
# outside them are refused at the door, and so are queries as at dates outside them.
CALENDAR_FIRST = date(1990, 1, 1)
CALENDAR_LAST = date(2100, 12, 31)


class WorkingDayConvention(StrEnum):
    # DfE: the start day is day 0, so the same day is 0 working days.
    EXCLUSIVE = "exclusive"
    # Some councils count the start day as day 1.
    INCLUSIVE = "inclusive"


class WorkingDayCalendar:
    """Monday to Friday, less the given bank holidays.

    Counting and due dates are O(1) table look-ups within the years the holiday list covers
    (the tables are built once), so a KPI evaluation over a million open cases stays cheap.
    Dates outside the table fall back to counting.
    """

    def __init__(
        self,
        bank_holidays: Iterable[date],
        convention: WorkingDayConvention = WorkingDayConvention.EXCLUSIVE,
        first: date = CALENDAR_FIRST,
        last: date = CALENDAR_LAST,
    ) -> None:
        self._holidays = frozenset(bank_holidays)
        self._weekday_holidays = sorted(d for d in self._holidays if d.weekday() < 5)
        self.convention = convention
        self._first, self._last = first, last
        # _count[i]: working days d with first <= d <= first + i days
        # _nth[k]: the (k+1)-th working day on or after first
        self._count: list[int] = []
        self._nth: list[date] = []
        running = 0
        day = first
        while day <= last:
            if self.is_working_day(day):
                running += 1
                self._nth.append(day)
            self._count.append(running)
            day += timedelta(days=1)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays

    def _working_days_up_to(self, day: date) -> int:
        """Working days d with first <= d <= day (can be negative before the table)."""
        if self._first <= day <= self._last:
            return self._count[(day - self._first).days]
        if day > self._last:
            return self._count[-1] + self._counted(self._last, day)
        return -self._counted(day, self._first - timedelta(days=1))

    def _counted(self, after: date, up_to: date) -> int:
        """Working days d with after < d <= up_to, outside the table: weekdays by arithmetic,
        less the bank holidays between (a bisection), so any date costs the same."""
        return (_weekdays_up_to(up_to) - _weekdays_up_to(after)) - (
            bisect_right(self._weekday_holidays, up_to)
            - bisect_right(self._weekday_holidays, after)
        )

    def working_days_between(self, start: date, end: date) -> int:
        """Working days d with start < d <= end (negative when end is before start).

        Under the inclusive convention the start day counts too when it is a working day.
        """
        count = self._working_days_up_to(end) - self._working_days_up_to(start)
        if self.convention is WorkingDayConvention.INCLUSIVE and self.is_working_day(start):
            count += 1 if end >= start else 0
        return count

    def add_working_days(self, start: date, n: int) -> date:
        """The due date of "within n working days of start": the n-th working day after it."""
        if n < 0:
            raise ValueError("n must not be negative")
        if self.convention is WorkingDayConvention.INCLUSIVE and self.is_working_day(start):
            n -= 1
        if n <= 0:
            return start
        if self._first <= start <= self._last:
            wanted = self._working_days_up_to(start) + n  # 1-based position in _nth
            if wanted <= len(self._nth):
                return self._nth[wanted - 1]
        day = start
        while n > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                n -= 1
        return day


def _weekdays_up_to(day: date) -> int:
    """Monday-to-Friday days from 1 Jan of year 1 (a Monday) to ``day``, inclusive."""
    weeks, rest = divmod(day.toordinal(), 7)
    return 5 * weeks + min(rest, 5)


@cache
def england_bank_holidays(
    first_year: int = CALENDAR_FIRST.year, last_year: int = CALENDAR_LAST.year
) -> frozenset[date]:
    """England and Wales bank holidays, one-off ones included, from the `holidays` library."""
    uk = holidays.country_holidays("GB", subdiv="ENG", years=range(first_year, last_year + 1))
    return frozenset(uk.keys())


@cache
def england_calendar(
    convention: WorkingDayConvention = WorkingDayConvention.EXCLUSIVE,
) -> WorkingDayCalendar:
    return WorkingDayCalendar(england_bank_holidays(), convention)
