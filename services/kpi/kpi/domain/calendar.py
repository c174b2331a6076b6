"""Working days in England (catalogue section 1). Pure: the holiday list is data handed in."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import date, timedelta
from enum import StrEnum
from functools import cache

import holidays


class WorkingDayConvention(StrEnum):
    # DfE: the start day is day 0, so the same day is 0 working days.
    EXCLUSIVE = "exclusive"
    # Some councils count the start day as day 1.
    INCLUSIVE = "inclusive"


_EPOCH = date(1990, 1, 1)


class WorkingDayCalendar:
    """Monday to Friday, less the given bank holidays.

    Counting is O(log n) through a prefix count of working days per date, so KPI snapshots over
    hundreds of thousands of cases stay cheap.
    """

    def __init__(
        self,
        bank_holidays: Iterable[date],
        convention: WorkingDayConvention = WorkingDayConvention.EXCLUSIVE,
    ) -> None:
        self._holidays = frozenset(bank_holidays)
        self._sorted_holidays = sorted(d for d in self._holidays if d.weekday() < 5)
        self.convention = convention

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and day not in self._holidays

    def _working_days_up_to(self, day: date) -> int:
        """Working days d with _EPOCH <= d <= day."""
        span = (day - _EPOCH).days + 1
        full_weeks, rest = divmod(span, 7)
        weekdays = full_weeks * 5
        start = _EPOCH.weekday()
        weekdays += sum(1 for i in range(rest) if (start + i) % 7 < 5)
        holidays_before = bisect_right(self._sorted_holidays, day) - bisect_right(
            self._sorted_holidays, _EPOCH - timedelta(days=1)
        )
        return weekdays - holidays_before

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
        day = start
        while n > 0:
            day += timedelta(days=1)
            if self.is_working_day(day):
                n -= 1
        return day


@cache
def england_bank_holidays(first_year: int = 2000, last_year: int = 2040) -> frozenset[date]:
    """England and Wales bank holidays, one-off ones included, from the `holidays` library."""
    uk = holidays.country_holidays("GB", subdiv="ENG", years=range(first_year, last_year + 1))
    return frozenset(uk.keys())


def england_calendar(
    convention: WorkingDayConvention = WorkingDayConvention.EXCLUSIVE,
) -> WorkingDayCalendar:
    return WorkingDayCalendar(england_bank_holidays(), convention)
