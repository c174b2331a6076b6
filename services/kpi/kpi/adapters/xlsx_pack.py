"""The board pack as an XLSX workbook (openpyxl), from a month-end freeze: the scorecard in the
councils' layout, every team's figures, a 13-month trend, exceptions by reason, revisions and
data quality. The same freeze gives the same bytes: every timestamp in the file is the freeze's.
No child, case or worker id is in a freeze, so none can be in the pack."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.properties import PageSetupProperties
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.writer.excel import ExcelWriter

from kpi.domain.board_pack import (
    NOT_RECORDED,
    Freeze,
    FrozenFigure,
    PackContext,
    Revision,
    ScorecardSetting,
    breach_order,
    trend_months,
)
from kpi.domain.evaluation import AS_AT, MONTH_OR_AS_AT
from kpi.domain.kpis import KPIS
from kpi.domain.kpis.base import Measure
from kpi.domain.periods import PeriodKind

# fills with dark enough colours for white words (and the word is always there)
RAG_FILLS = {
    "Green": "00703C",
    "Amber": "B35900",
    "Red": "B3261E",
    "Grey": "505A5F",
    "Not rated": "505A5F",
    "No data": "505A5F",
}
AIMS = {"higher": "Higher", "lower": "Lower", "band": "Band", "context": "Context (no aim)"}
HEADER = Font(bold=True)
WHITE = Font(bold=True, color="FFFFFF")


def _number_format(kpi: str) -> str:
    return "0.0%" if KPIS[kpi].measure is Measure.RATIO else "0.0"


def _sheet(book: Workbook, title: str, header: Sequence[str], widths: Sequence[int]) -> Worksheet:
    sheet: Worksheet = book.create_sheet(title)
    sheet.append(list(header))
    for cell in sheet[1]:
        cell.font = HEADER
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for n, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(n)].width = width
    sheet.freeze_panes = "B2"
    sheet.page_setup.orientation = "landscape"
    sheet.page_setup.paperSize = sheet.PAPERSIZE_A4
    sheet.page_setup.fitToWidth = 1
    sheet.page_setup.fitToHeight = 0
    sheet.sheet_properties.pageSetUpPr = PageSetupProperties(fitToPage=True)
    sheet.print_title_rows = "1:1"
    return sheet


def _finish(sheet: Worksheet) -> None:
    last = f"{get_column_letter(sheet.max_column)}{max(sheet.max_row, 1)}"
    sheet.auto_filter.ref = f"A1:{last}"
    sheet.print_area = f"A1:{last}"


def _rag_cell(sheet: Worksheet, row: int, column: int, rag: str) -> None:
    cell = sheet.cell(row=row, column=column)
    cell.value = rag
    cell.fill = PatternFill("solid", fgColor=RAG_FILLS.get(rag, "505A5F"))
    cell.font = WHITE


def headline(freeze: Freeze, kpi: str, level: str, unit: str) -> FrozenFigure | None:
    """The KPI's figure for the month (a KPI counted on a day: as at the month's end)."""
    period = AS_AT if KPIS[kpi].point_in_time else PeriodKind.MONTH.value
    return freeze.figure(kpi, period, level, unit)


def shown(value: float | None, kpi: str) -> str:
    """A figure as words: a ratio as a percentage, anything else to one decimal place."""
    if value is None:
        return "-"
    if KPIS[kpi].measure is Measure.RATIO:
        return f"{100 * value:.1f}%"
    return f"{value:.1f}"


@dataclass(frozen=True)
class ScorecardLine:
    """A KPI's council figures in the scorecard: the month's (or the month end's), the year to
    date's, the rolling 12 months' and last financial year's where the KPI has them, and the
    council file's columns as frozen."""

    kpi: str
    month: FrozenFigure
    year_to_date: float | None
    rolling_12_months: float | None
    last_year: float | None
    setting: ScorecardSetting | None

    def comparator(self, name: str) -> float | None:
        value = (self.month.comparators.get(name) or {}).get("value")
        return None if value is None else float(value)

    @property
    def aim(self) -> str:
        aim = self.setting.aim if self.setting is not None else self.month.polarity
        words = AIMS.get(aim, aim)
        if aim == "band" and self.setting is not None:
            low, high = shown(self.setting.low, self.kpi), shown(self.setting.high, self.kpi)
            return f"{words} {low} to {high}"
        return words

    @property
    def quartile(self) -> str | None:
        if self.setting is None or self.setting.national_quartile is None:
            return None
        return f"Q{self.setting.national_quartile} {self.setting.quartile_year}"


def last_march(month: date) -> date:
    """The March that ended the financial year before the one ``month`` is in."""
    year = month.year if month.month >= 4 else month.year - 1
    return date(year, 3, 1)


def _last_year(kpi: str, freeze: Freeze, earlier: Iterable[Freeze]) -> float | None:
    """The last financial year's council figure: its March freeze's year to date (a KPI
    counted on a day: as at that March's end), else the council file's published figure."""
    march = next((f for f in earlier if f.month == last_march(freeze.month)), None)
    if march is not None:
        period = AS_AT if KPIS[kpi].point_in_time else PeriodKind.FINANCIAL_YEAR_TO_DATE.value
        held = march.figure(kpi, period, "council", "all")
        if held is not None:
            return held.value
    setting = freeze.setting(kpi)
    return None if setting is None else setting.last_year


def scorecard_lines(freeze: Freeze, earlier: Iterable[Freeze] = ()) -> list[ScorecardLine]:
    earlier = list(earlier)
    lines = []
    for kpi in KPIS:
        month = headline(freeze, kpi, "council", "all")
        if month is None:
            continue
        ytd = freeze.figure(kpi, PeriodKind.FINANCIAL_YEAR_TO_DATE.value, "council", "all")
        r12 = freeze.figure(kpi, PeriodKind.ROLLING_12_MONTHS.value, "council", "all")
        lines.append(
            ScorecardLine(
                kpi,
                month,
                _value(ytd),
                _value(r12),
                _last_year(kpi, freeze, earlier),
                freeze.setting(kpi),
            )
        )
    return lines


def _value(figure: FrozenFigure | None) -> float | None:
    return None if figure is None else figure.value


SCORECARD = (
    ("KPI", 16), ("Measure", 44), ("Aim", 12), ("RAG", 11), ("Target", 10), ("Milestone", 10),
    ("This month", 11), ("Numerator", 11), ("Denominator", 12), ("Previous month", 11),
    ("Direction", 13), ("This year to date", 11), ("Rolling 12 months", 11),
    ("Last year", 10), ("Next year's target", 11), ("National quartile", 13), ("England", 10),
    ("Region", 10), ("Statistical neighbours", 13), ("Baseline", 10), ("Small numbers", 9),
)  # fmt: skip
COMPARATORS = ("england", "region", "statistical_neighbours", "baseline")
# the columns holding a figure in the KPI's own unit
FIGURE_COLUMNS = (5, 6, 7, 10, 12, 13, 14, 15, 17, 18, 19, 20)


def _scorecard_row(line: ScorecardLine) -> list[Any]:
    month, setting = line.month, line.setting
    return [
        line.kpi,
        month.title,
        line.aim,
        month.rag,
        month.target,
        setting.milestone if setting else None,
        month.value,
        month.numerator,
        month.denominator,
        month.previous_value,
        month.direction,
        line.year_to_date,
        line.rolling_12_months,
        line.last_year,
        setting.next_year_target if setting else None,
        line.quartile,
        *(line.comparator(name) for name in COMPARATORS),
        "yes" if month.small_numbers else "",
    ]


def _scorecard(book: Workbook, context: PackContext) -> None:
    sheet = _sheet(book, "Scorecard", [h for h, _ in SCORECARD], [w for _, w in SCORECARD])
    for line in scorecard_lines(context.freeze, context.earlier):
        sheet.append(_scorecard_row(line))
        row = sheet.max_row
        _rag_cell(sheet, row, 4, line.month.rag)
        for column in FIGURE_COLUMNS:
            sheet.cell(row=row, column=column).number_format = _number_format(line.kpi)
        sheet.cell(row=row, column=2).alignment = Alignment(wrap_text=True, vertical="top")
    _finish(sheet)


def _teams(book: Workbook, freeze: Freeze) -> None:
    header = ["KPI", "Team", "Period", "Figure", "Numerator", "Denominator", "RAG", "Target"]
    sheet = _sheet(book, "Teams", header, [16, 28, 12, 11, 11, 12, 11, 10])
    for f in freeze.figures:
        if f.level != "team" or f.period not in MONTH_OR_AS_AT:
            continue
        sheet.append(
            [f.kpi, f.unit_name, f.period, f.value, f.numerator, f.denominator, f.rag, f.target]
        )
        row = sheet.max_row
        _rag_cell(sheet, row, 7, f.rag)
        for column in (4, 8):
            sheet.cell(row=row, column=column).number_format = _number_format(f.kpi)
    _finish(sheet)


def _trend(book: Workbook, freeze: Freeze, earlier: Iterable[Freeze]) -> None:
    months = trend_months(freeze.month)
    by_month = {f.month: f for f in (*earlier, freeze)}
    header = ["KPI", "Target", *(f"{m:%b %Y}" for m in months)]
    sheet = _sheet(book, "Trend", header, [16, 10, *([10] * len(months))])
    for kpi in KPIS:
        values = []
        for m in months:
            held = by_month.get(m)
            values.append(_value(headline(held, kpi, "council", "all")) if held else None)
        current = headline(freeze, kpi, "council", "all")
        sheet.append([kpi, current.target if current else None, *values])
        for column in range(2, len(months) + 3):
            sheet.cell(row=sheet.max_row, column=column).number_format = _number_format(kpi)
    _finish(sheet)


def _exceptions(book: Workbook, freeze: Freeze) -> None:
    header = ["KPI", "Period", "Team", "Exception reason", "Breaches"]
    sheet = _sheet(book, "Exceptions", header, [16, 22, 28, 34, 10])
    rows = sorted(
        (b for b in freeze.breaches if b.period in MONTH_OR_AS_AT),
        key=lambda b: (b.kpi, b.team, breach_order(b.reason)),
    )
    for b in rows:
        reason = "reason not recorded" if b.reason == NOT_RECORDED else b.reason.replace("_", " ")
        sheet.append([b.kpi, b.period, b.team, reason, b.count])
    _finish(sheet)


def _revisions(book: Workbook, revisions: Sequence[Revision]) -> None:
    header = [
        "KPI", "Period", "Level", "Team or service", "Frozen figure", "Frozen counts",
        "Figure now", "Counts now", "Late events",
    ]  # fmt: skip
    sheet = _sheet(book, "Revisions", header, [16, 22, 9, 28, 11, 13, 11, 13, 10])
    for r in revisions:
        sheet.append(
            [
                r.kpi,
                r.period,
                r.level,
                r.unit_name,
                r.old.value,
                f"{r.old.numerator} / {r.old.denominator}",
                r.new.value,
                f"{r.new.numerator} / {r.new.denominator}",
                r.late_events,
            ]
        )
        for column in (5, 7):
            sheet.cell(row=sheet.max_row, column=column).number_format = _number_format(r.kpi)
    _finish(sheet)


def _data_quality(book: Workbook, freeze: Freeze) -> None:
    sheet = _sheet(book, "Data quality", ["Check", "Issues"], [40, 10])
    for check, count in freeze.issues:
        sheet.append([check.replace("_", " "), count])
    _finish(sheet)


def _about(book: Workbook, context: PackContext) -> None:
    sheet = book.active
    assert sheet is not None
    sheet.title = "About"
    freeze = context.freeze
    lines: list[list[Any]] = [
        [f"{context.council}: children's services KPIs, {freeze.month:%B %Y}"],
        ["Figures as at", freeze.month_end],
        ["Frozen at (UTC)", freeze.frozen_at.replace(tzinfo=None)],
        ["Events known at the freeze", freeze.events_known],
        [],
        ["RAG", "Meaning"],
        ["Green", "meets the council's target"],
        ["Amber", "short of the target, within its tolerance"],
        ["Red", "short of the target beyond its tolerance"],
        ["Grey", "no target: monitoring only"],
        ["Not rated", "small numbers (fewer than the threshold): shown, not rated"],
        ["No data", "nothing in the cohort"],
        [],
        ["Frozen figures never change; later events show in the next pack's Revisions sheet."],
    ]
    for line in lines:
        sheet.append(line)
    sheet["A1"].font = Font(bold=True, size=14)
    sheet["B2"].number_format = "d mmmm yyyy"
    sheet["B3"].number_format = "d mmmm yyyy hh:mm"
    for row in range(7, 13):
        _rag_cell(sheet, row, 1, str(sheet.cell(row=row, column=1).value))
    sheet.column_dimensions["A"].width = 28
    sheet.column_dimensions["B"].width = 60


def workbook(context: PackContext) -> Workbook:
    book = Workbook()
    _about(book, context)
    _scorecard(book, context)
    _teams(book, context.freeze)
    _trend(book, context.freeze, context.earlier)
    _exceptions(book, context.freeze)
    _revisions(book, context.freeze.revisions)
    _data_quality(book, context.freeze)
    moment = context.freeze.frozen_at.replace(tzinfo=None)
    book.properties.creator = "casetime"
    book.properties.title = f"{context.council} KPIs {context.freeze.month:%B %Y}"
    book.properties.created = moment
    book.properties.modified = moment
    return book


def xlsx_bytes(context: PackContext) -> bytes:
    """The workbook, with every zip entry stamped with the freeze's time (same freeze, same
    bytes)."""
    raw = io.BytesIO()
    # ExcelWriter, not Workbook.save: save stamps the file as modified now
    ExcelWriter(workbook(context), zipfile.ZipFile(raw, "w", zipfile.ZIP_DEFLATED)).save()
    stamp = context.freeze.frozen_at.timetuple()[:6]
    fixed = io.BytesIO()
    with zipfile.ZipFile(raw) as source, zipfile.ZipFile(fixed, "w") as target:
        for entry in source.infolist():
            info = zipfile.ZipInfo(entry.filename, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = entry.external_attr
            target.writestr(info, source.read(entry.filename))
    return fixed.getvalue()
