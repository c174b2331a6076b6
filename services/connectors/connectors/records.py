"""What a connector reads and what it reports, before any event is made: a source row (one
record of a return or an SSD table, under the child's pseudonymous id) and the import report
(per record: imported, or skipped and why, with the file and line or element path)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any


@dataclass(frozen=True)
class SourceRow:
    """One record, keyed within its table and child. A row from a later return (a later
    ``as_of``) replaces the same key's row from an earlier one."""

    table: str
    child: str  # pseudonymous
    key: str
    as_of: date  # the return's reference date, or the poll's
    fields: Mapping[str, Any]  # JSON-able
    location: str  # file:line, or the element path


def latest_rows(rows: Iterable[SourceRow]) -> list[SourceRow]:
    """Each key's row from the latest source date (of two from the same date, the one read
    last): what a council's returns say, however many there are and in whatever order."""
    latest: dict[tuple[str, str, str], SourceRow] = {}
    for row in rows:
        held = latest.get((row.table, row.child, row.key))
        if held is None or row.as_of >= held.as_of:
            latest[(row.table, row.child, row.key)] = row
    return list(latest.values())


@dataclass(frozen=True)
class Skipped:
    location: str
    reason: str


@dataclass
class ImportReport:
    source: str
    files: list[str] = field(default_factory=list)
    children: set[str] = field(default_factory=set)  # every child a record names
    # the children with an episode: CIN details, or a looked-after episode
    episode_children: set[str] = field(default_factory=set)
    episodes: int = 0  # CIN details, or looked-after episodes (903 rows)
    rows: Counter[str] = field(default_factory=Counter)  # by table
    skipped: list[Skipped] = field(default_factory=list)  # records that could not be read
    # what each child's latest derivation skipped (a child derived twice in a run, as its rows
    # arrive table by table, reports only what its whole history skips)
    derived: dict[str, list[Skipped]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # e.g. schema findings
    changed_rows: int = 0  # new to the ledger, or from a later return than it held
    posted: int = 0
    voided: int = 0
    unchanged: int = 0

    def skip(self, location: str, reason: str) -> None:
        self.skipped.append(Skipped(location, reason))

    def all_skipped(self) -> list[Skipped]:
        return [*self.skipped, *(s for child in sorted(self.derived) for s in self.derived[child])]


class RecordError(ValueError):
    """A value in a record that cannot be read; the message names it."""


def parse_date(text: str | None, name: str, day_first: bool = False) -> date | None:
    """A return's date: ``YYYY-MM-DD`` (CIN census, SSD) or ``dd/mm/yyyy`` (SSDA903); blank is
    None."""
    if text is None or not text.strip():
        return None
    value = text.strip()
    try:
        if day_first:
            return datetime.strptime(value, "%d/%m/%Y").date()
        return date.fromisoformat(value[:10])
    except ValueError:
        expected = "dd/mm/yyyy" if day_first else "YYYY-MM-DD"
        raise RecordError(f"{name} {value!r} is not a date ({expected})") from None


YES = {"1", "true", "y", "yes"}
NO = {"0", "false", "n", "no"}


def parse_yes_no(text: str | None, name: str) -> bool | None:
    """Returns write yes/no as 1/0 or true/false (and the odd Y/N)."""
    if text is None or not text.strip():
        return None
    value = text.strip().lower()
    if value in YES:
        return True
    if value in NO:
        return False
    raise RecordError(f"{name} {text.strip()!r} is not yes or no (1/0, true/false)")
