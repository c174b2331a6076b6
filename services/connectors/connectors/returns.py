"""Importing a council's returns: read the files, merge their rows, post what changed."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from connectors import cin_census, ssda903
from connectors.drafts import EARLIEST, ChildEvents, Draft
from connectors.ledger import Ledger
from connectors.pseudonyms import Pseudonyms
from connectors.records import ImportReport, SourceRow, latest_rows
from connectors.sync import Connector, Post

# the team every imported event names: the returns say none
RETURNS_TEAM = "Not recorded (imported return)"


@dataclass(frozen=True)
class ReturnOptions:
    pseudonyms: Pseudonyms
    team: str = RETURNS_TEAM
    schemas: Path | None = None  # a folder of the year's XSDs (CIN_schema_<year>.xsd, CLA.xsd)
    strict: bool = False  # schema findings refuse the file
    reference_date: date | None = None  # 903: the collection's end, when names do not say
    earliest: date = EARLIEST


def read_rows(
    kind: str, paths: Sequence[Path], options: ReturnOptions, report: ImportReport
) -> list[SourceRow]:
    """Every row of the files given (``kind``: cin or 903; a 903 may be CSV tables, folders
    of them, or its XML form)."""
    rows: list[SourceRow] = []
    if kind == cin_census.SOURCE:
        for path in paths:
            files = sorted(path.glob("*.xml")) if path.is_dir() else [path]
            for file in files:
                rows += cin_census.read_census(
                    file, options.pseudonyms, report, options.schemas, options.strict
                )
        return rows
    xml = [p for p in paths if p.suffix.lower() == ".xml"]
    schema = options.schemas / "CLA.xsd" if options.schemas else None
    for file in xml:
        rows += ssda903.read_xml(file, options.pseudonyms, report, schema, options.reference_date)
    tables = [p for p in paths if p not in xml]
    if tables:
        rows += ssda903.read_tables(tables, options.pseudonyms, report, options.reference_date)
    return rows


def derive_all(kind: str, rows: Sequence[SourceRow], team: str = RETURNS_TEAM) -> list[Draft]:
    """Every event the rows make together, derived in one go with no ledger: what a ledger's
    imports, in whatever order, come to."""
    by_child: dict[str, list[SourceRow]] = defaultdict(list)
    for row in latest_rows(rows):
        by_child[row.child].append(row)
    derive = cin_census.derive if kind == cin_census.SOURCE else ssda903.derive
    drafts: list[Draft] = []
    for child, child_rows in sorted(by_child.items()):
        events = ChildEvents(kind, child, team)
        derive(child, sorted(child_rows, key=lambda r: (r.table, r.key)), team, events)
        drafts += events.drafts
    return drafts


async def import_returns(
    kind: str,
    paths: Sequence[Path],
    ledger: Ledger,
    post: Post,
    options: ReturnOptions,
    on_progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    report = ImportReport(kind)
    rows = read_rows(kind, paths, options, report)
    derive = cin_census.derive if kind == cin_census.SOURCE else ssda903.derive
    connector = Connector(kind, ledger, derive, options.team, post, options.earliest)
    connector.on_progress = on_progress
    await connector.load(rows, report)
    return report
