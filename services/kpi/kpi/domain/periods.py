"""Reporting periods, each ending on an as-at date (catalogue section 1).

The reporting year is the financial year, 1 April to 31 March.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum


class PeriodKind(StrEnum):
    MONTH = "month"
    QUARTER = "quarter"
    FINANCIAL_YEAR_TO_DATE = "financial_year_to_date"
    ROLLING_12_MONTHS = "rolling_12_months"


@dataclass(frozen=True, slots=True)
class Period:
    kind: PeriodKind
    start: date
    end: date  # the as-at date, inclusive

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


def add_months(day: date, months: int) -> date:
    """Calendar months, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.year * 12 + (day.month - 1) + months
    year, month = divmod(month_index, 12)
    month += 1
    next_month_first = date(year + (month == 12), month % 12 + 1, 1)
    last_day = (next_month_first - timedelta(days=1)).day
    return date(year, month, min(day.day, last_day))


def financial_year_start(as_at: date) -> date:
    return date(as_at.year if as_at.month >= 4 else as_at.year - 1, 4, 1)


def period_ending(kind: PeriodKind, as_at: date) -> Period:
    if kind is PeriodKind.MONTH:
        start = as_at.replace(day=1)
    elif kind is PeriodKind.QUARTER:
        # Financial quarters (Apr-Jun, Jul-Sep, Oct-Dec, Jan-Mar) share calendar quarter bounds.
        start = date(as_at.year, 3 * ((as_at.month - 1) // 3) + 1, 1)
    elif kind is PeriodKind.FINANCIAL_YEAR_TO_DATE:
        start = financial_year_start(as_at)
    elif (as_at + timedelta(days=1)).day == 1:
        # At a month end: the last 12 whole months (to 28 Feb 2025 starts 1 Mar 2024, not 29 Feb).
        start = add_months(as_at.replace(day=1), -11)
    else:
        start = add_months(as_at, -12) + timedelta(days=1)
    return Period(kind, start, as_at)


@functools.lru_cache(maxsize=512)
def periods_ending(as_at: date) -> tuple[Period, ...]:
    return tuple(period_ending(kind, as_at) for kind in PeriodKind)


def earliest_start(as_at: date) -> date:
    return min(p.start for p in periods_ending(as_at))
