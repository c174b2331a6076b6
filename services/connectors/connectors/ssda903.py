"""The SSDA903 looked-after return (its CSV tables, or its XML form) as source rows, and a
child's rows as casetime events.

Rows: the child's header (month of birth), each episode (keyed by its start, DECOM) and each
review (keyed by its date); a later return's row of the same key replaces an earlier one's. A
child's periods of care and placements are worked out from all its episodes together, in order
of DECOM: an episode with RNE S starts a period of care, one with RNE P, T, B or U a placement
within it (L is a change of legal status only), and an episode that ends with a REC other than
X1 ends the placement and the period. So the same history gives the same events however many
returns it came in, and in whatever order they were imported. The return holds health and
dental checks as yes/no flags for the year, not dates, and no visits: those KPIs get nothing
from it (README: Connectors)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from connectors.cin_census import ReturnFileError, parse_xml, schema_findings
from connectors.drafts import ChildEvents, year_end
from connectors.pseudonyms import Pseudonyms, stable_id
from connectors.records import ImportReport, RecordError, SourceRow, parse_date

SOURCE = "903"
TABLE_FILE = re.compile(r"^(?:(?P<year>\d{4})-)?(?P<table>episodes|header|reviews)\.csv$")
COLUMNS = {
    "episodes": ("CHILD", "DECOM", "RNE", "LS", "CIN", "PLACE", "PLACE_PROVIDER", "DEC", "REC",
                 "REASON_PLACE_CHANGE"),
    "header": ("CHILD", "DOB"),
    "reviews": ("CHILD", "REVIEW"),
}  # fmt: skip
PLACEMENT_CHANGES = frozenset({"S", "P", "T", "B", "U"})
STILL_IN_CARE = "X1"


def _day(value: str | None, name: str) -> str | None:
    day = parse_date(value, name, day_first=True)
    return None if day is None else day.isoformat()


def episode_fields(get: Any) -> dict[str, Any]:
    """An episode's fields, from a function giving a column's text (CSV) or an element's."""
    return {
        "decom": _day(get("DECOM"), "DECOM"),
        "rne": (get("RNE") or "").strip() or None,
        "ls": (get("LS") or "").strip() or None,
        "cin": (get("CIN") or "").strip() or None,
        "place": (get("PLACE") or get("PL") or "").strip() or None,
        "provider": (get("PLACE_PROVIDER") or "").strip() or None,
        "dec": _day(get("DEC"), "DEC"),
        "rec": (get("REC") or "").strip() or None,
        "reason_place_change": (get("REASON_PLACE_CHANGE") or "").strip() or None,
    }


@dataclass(frozen=True)
class TableFile:
    path: Path
    table: str
    year: int | None  # the collection year's first year, from a name like 2019-episodes.csv


def table_files(paths: Iterable[Path], report: ImportReport) -> list[TableFile]:
    """The 903 tables among the files and folders given (other tables are noted, not read)."""
    found = []
    for path in paths:
        for file in sorted(path.iterdir()) if path.is_dir() else [path]:
            match = TABLE_FILE.match(file.name)
            if match:
                year = int(match["year"]) if match["year"] else None
                found.append(TableFile(file, match["table"], year))
            elif file.suffix.lower() == ".csv":
                report.notes.append(f"{file.name}: not read (casetime's KPIs need none of it)")
    return found


def _csv_records(file: TableFile) -> Iterator[tuple[int, dict[str, str]]]:
    # utf-8-sig: some returns start with a byte-order mark
    with file.path.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in COLUMNS[file.table] if c not in (reader.fieldnames or [])]
        if missing:
            raise ReturnFileError(f"{file.path.name}:1: no column {', '.join(missing)}")
        for record in reader:
            yield reader.line_num, {k: (v or "") for k, v in record.items() if k is not None}


def _row(
    table: str, record: Any, where: str, as_of: date, pseudonyms: Pseudonyms, report: ImportReport
) -> SourceRow | None:
    """One record's row (None: skipped, and why is in the report)."""
    local_id = (record("CHILD") or "").strip()
    if not local_id:
        report.skip(where, "no CHILD id")
        return None
    child = pseudonyms.child(local_id)
    try:
        if table == "episodes":
            fields = episode_fields(record)
            if fields["decom"] is None:
                report.skip(where, "no DECOM")
                return None
            key = fields["decom"]
            report.episodes += 1
            report.episode_children.add(child)
        elif table == "header":
            born = parse_date(record("DOB"), "DOB", day_first=True)
            fields, key = {"birth_month": f"{born:%Y-%m}" if born else None}, ""
        else:
            key = _day(record("REVIEW"), "REVIEW") or ""
            if not key:
                report.skip(where, "no REVIEW date")
                return None
            fields = {"review": key}
    except RecordError as exc:
        report.skip(where, str(exc))
        return None
    report.children.add(child)
    report.rows[table] += 1
    return SourceRow(table, child, key, as_of, fields, where)


def read_tables(
    paths: Iterable[Path],
    pseudonyms: Pseudonyms,
    report: ImportReport,
    reference_date: date | None = None,
) -> list[SourceRow]:
    """The rows of every 903 CSV table given, each return's as of its collection's end (from a
    file name like ``2019-episodes.csv``: 31 March 2020; else from its latest DECOM)."""
    files = table_files(paths, report)
    rows: list[SourceRow] = []
    for year in sorted({f.year for f in files}, key=lambda y: y or 0):
        group = sorted((f for f in files if f.year == year), key=lambda f: f.table != "episodes")
        as_of = reference_date or (date(year + 1, 3, 31) if year else _latest_end(group))
        for file in group:
            report.files.append(file.path.name)
            for line, record in _csv_records(file):
                where = f"{file.path.name}:{line}"
                row = _row(file.table, record.get, where, as_of, pseudonyms, report)
                if row is not None:
                    rows.append(row)
    return rows


def _latest_end(group: Sequence[TableFile]) -> date:
    starts = []
    for file in group:
        if file.table == "episodes":
            for _, record in _csv_records(file):
                try:
                    day = parse_date(record.get("DECOM"), "DECOM", day_first=True)
                except RecordError:
                    continue
                if day is not None:
                    starts.append(day)
    if not starts:
        raise ReturnFileError("no episodes file with a DECOM: give --reference-date")
    return year_end(max(starts))


def _element_text(element: Any, child_id: str) -> Any:
    def get(name: str) -> str | None:
        if name == "CHILD":
            return child_id
        found = element.find(name)
        return None if found is None or found.text is None else str(found.text)

    return get


def read_xml(
    path: Path,
    pseudonyms: Pseudonyms,
    report: ImportReport,
    schema: Path | None = None,
    reference_date: date | None = None,
) -> list[SourceRow]:
    """The rows of the 903's XML form (``EXPSSDA903/CHILD/{HEADER, EPISODE*}``), checked
    against ``schema`` (e.g. CLA.xsd) where given: its findings are notes."""
    tree = parse_xml(path)
    report.notes += schema_findings(tree, schema, path.name)
    root = tree.getroot()
    starts = [parse_date(e.text, "DECOM", day_first=True) for e in root.iter("DECOM") if e.text]
    as_of = reference_date or year_end(max(d for d in starts if d is not None))
    report.files.append(path.name)
    rows: list[SourceRow] = []
    for child in root.iterfind("CHILD"):
        local_id = (child.findtext("HEADER/CHILDID") or "").strip()
        header = child.find("HEADER")
        parts: list[tuple[str, Any]] = [("header", header)] if header is not None else []
        parts += [("reviews", r) for r in child.iterfind("HEADER/AREVIEW")]
        parts += [("episodes", e) for e in child.iterfind("EPISODE")]
        for table, element in parts:
            where = f"{path.name}:{element.sourceline} {tree.getpath(element)}"
            get = _element_text(element, local_id)
            row = _row(table, get, where, as_of, pseudonyms, report)
            if row is not None:
                rows.append(row)
    return rows


@dataclass
class _Care:
    """A period of care being worked through, and its open placement."""

    id: str
    start: str
    end: str | None = None
    placement: str | None = None
    last: SourceRow | None = None  # its latest episode


def derive(child_id: str, rows: Sequence[SourceRow], team: str, events: ChildEvents) -> None:
    """The child's events from its 903 rows (into ``events``)."""
    birth = next((r.fields.get("birth_month") for r in rows if r.table == "header"), None)
    if birth:
        header = next(r for r in rows if r.table == "header")
        events.birth_month(birth, header.as_of, header.location)
    periods: list[_Care] = []
    care: _Care | None = None
    for row in sorted((r for r in rows if r.table == "episodes"), key=lambda r: r.key):
        care = _episode(child_id, row, care, birth, events)
        if not any(p is care for p in periods):
            periods.append(care)
        if care.end is not None:
            care = None
    for row in sorted((r for r in rows if r.table == "reviews"), key=lambda r: r.key):
        held = [p for p in periods if p.start <= row.key and (p.end is None or row.key <= p.end)]
        if not held:
            events.skipped.append((row.location, f"review on {row.key}: in no period of care"))
            continue
        review = stable_id("lar", child_id, row.key)
        link = {"period_of_care_id": held[-1].id}
        events.add("looked_after_review_held", review, row.key, row.as_of, row.location, link)


def _episode(
    child_id: str, row: SourceRow, care: _Care | None, birth: str | None, events: ChildEvents
) -> _Care:
    f, at, known = row.fields, row.location, row.as_of
    if care is None or f["rne"] == "S":
        if care is not None:  # a new period while one is open: the file is missing its end
            reason = f"RNE S on {f['decom']} while a period of care was open"
            events.skipped.append((at, reason))
        care = _Care(stable_id("poc", child_id, f["decom"]), f["decom"])
        if f["rne"] != "S":
            reason = f"period of care started before the earliest return given (RNE {f['rne']})"
            events.skipped.append((at, reason))
        elif f["ls"] and f["cin"]:
            start = {"legal_status": f["ls"], "category_of_need": f["cin"], "birth_month": birth}
            events.add("period_of_care_started", care.id, f["decom"], known, at, start)
        else:
            events.skipped.append((at, "period of care started without LS or CIN"))
    if care.placement is None or f["rne"] in PLACEMENT_CHANGES:
        _end_placement(care, events)
        care.placement = stable_id("pl", child_id, f["decom"])
        if f["place"]:
            placed = {
                "period_of_care_id": care.id,
                "placement_type": f["place"],
                "placement_provider": f["provider"],
                "reason_new_episode": f["rne"],
            }
            events.add("placement_started", care.placement, f["decom"], known, at, placed)
        else:
            events.skipped.append((at, "placement without PLACE"))
    care.last = row
    if f["dec"] and f["rec"] and f["rec"] != STILL_IN_CARE:
        _end_placement(care, events)
        ceased = {"reason_episode_ceased": f["rec"]}
        events.add("period_of_care_ended", care.id, f["dec"], known, at, ceased)
        care.end = f["dec"]
    return care


def _end_placement(care: _Care, events: ChildEvents) -> None:
    last = care.last
    if care.placement is None or last is None or not last.fields["dec"]:
        return
    reason = {"reason_place_change": last.fields["reason_place_change"]}
    events.add(
        "placement_ended", care.placement, last.fields["dec"], last.as_of, last.location, reason
    )
    care.placement = None
