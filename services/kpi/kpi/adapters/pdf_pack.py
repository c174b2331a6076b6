"""The board pack as a PDF (ReportLab), from a month-end freeze: the scorecard, then a trend
chart per KPI with its target line and RAG bands shaded. A4 landscape, titled on every page with
the council, the month and the freeze time, with the RAG key on every page; every colour has its
word beside it, so the pack reads the same printed in black and white. The same freeze makes
the same bytes (ReportLab's invariant mode)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from reportlab.graphics.shapes import Drawing, Line, PolyLine, Rect, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from kpi.adapters.xlsx_pack import (
    RAG_FILLS,
    ScorecardLine,
    headline,
    scorecard_lines,
    shown,
)
from kpi.domain.board_pack import FrozenFigure, PackContext, trend_months
from kpi.domain.council import KpiTarget, Rag, RagRule, rag_bands
from kpi.domain.kpis import KPIS
from kpi.domain.kpis.base import Measure, Polarity

PAGE = landscape(A4)
MARGIN = 12 * mm
SMALL = ParagraphStyle("small", fontName="Helvetica", fontSize=7, leading=8.5)
HEAD = ParagraphStyle("head", fontName="Helvetica-Bold", fontSize=7, leading=8.5)
TITLE = ParagraphStyle("title", fontName="Helvetica-Bold", fontSize=13, leading=16)
# light tints for the chart bands, dark enough to tell apart in grey
BAND_TINTS = {Rag.RED: "#f4c7c3", Rag.AMBER: "#fde2b8", Rag.GREEN: "#cfe8d5", Rag.GREY: "#e5e5e5"}
KEY = ("Green", "Amber", "Red", "Grey", "Not rated", "No data")


def _title(context: PackContext) -> str:
    return f"{context.council}: children's services KPIs, {context.freeze.month:%B %Y}"


def _decorate(context: PackContext) -> Any:
    freeze = context.freeze

    def on_page(canvas: Canvas, document: Any) -> None:
        width, height = PAGE
        canvas.saveState()
        canvas.setFont("Helvetica-Bold", 10)
        canvas.drawString(MARGIN, height - 8 * mm, _title(context))
        canvas.setFont("Helvetica", 8)
        canvas.drawRightString(
            width - MARGIN,
            height - 8 * mm,
            f"Figures as at {freeze.month_end:%d %B %Y}; frozen {freeze.frozen_at:%d %B %Y %H:%M}"
            " UTC",
        )
        x = MARGIN
        canvas.drawString(x, 6 * mm, "RAG key:")
        x += 14 * mm
        for word in KEY:
            canvas.setFillColor(colors.HexColor(f"#{RAG_FILLS[word]}"))
            canvas.rect(x, 5.2 * mm, 4 * mm, 3 * mm, fill=1, stroke=0)
            canvas.setFillColor(colors.black)
            canvas.drawString(x + 5 * mm, 6 * mm, word)
            x += 8 * mm + canvas.stringWidth(word, "Helvetica", 8)
        canvas.drawRightString(width - MARGIN, 6 * mm, f"Page {document.page}")
        canvas.restoreState()

    return on_page


SCORECARD_HEAD = [
    "KPI", "Measure", "Aim", "RAG", "Target", "Milestone", "This month", "Counts", "Last month",
    "Direction", "Year to date", "Last year", "Next year", "England", "Quartile",
]  # fmt: skip
WIDTHS = [33, 42, 14, 15, 13, 16, 15, 17, 14, 19, 15, 14, 14, 14, 17]


def _scorecard_row(line: ScorecardLine) -> list[Any]:
    kpi, month, setting = line.kpi, line.month, line.setting
    small = " *" if month.small_numbers else ""
    return [
        kpi,
        Paragraph(month.title, SMALL),
        Paragraph(line.aim, SMALL),
        month.rag,
        shown(month.target, kpi),
        shown(setting.milestone if setting else None, kpi),
        shown(month.value, kpi),
        f"{month.numerator:,} / {month.denominator:,}{small}",
        shown(month.previous_value, kpi),
        Paragraph(month.direction, SMALL),
        shown(line.year_to_date, kpi),
        shown(line.last_year, kpi),
        shown(setting.next_year_target if setting else None, kpi),
        shown(line.comparator("england"), kpi),
        Paragraph(line.quartile or "-", SMALL),
    ]


def _scorecard(context: PackContext) -> Table:
    lines = scorecard_lines(context.freeze, context.earlier)
    head = [Paragraph(words, HEAD) for words in SCORECARD_HEAD]
    rows: list[list[Any]] = [head, *(_scorecard_row(line) for line in lines)]
    rags = [line.month.rag for line in lines]
    table = Table(rows, colWidths=[w * mm for w in WIDTHS], repeatRows=1)
    style: list[Any] = [
        ("FONT", (0, 0), (-1, -1), "Helvetica", 7),
        ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 7),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#999999")),
        ("ALIGN", (4, 1), (-1, -1), "RIGHT"),
    ]
    for n, word in enumerate(rags, start=1):
        style += [
            ("BACKGROUND", (3, n), (3, n), colors.HexColor(f"#{RAG_FILLS[word]}")),
            ("TEXTCOLOR", (3, n), (3, n), colors.white),
            ("FONT", (3, n), (3, n), "Helvetica-Bold", 7),
        ]
    table.setStyle(TableStyle(style))
    return table


CHART_W, CHART_H = 82 * mm, 52 * mm


def _scale(kpi: str, values: Sequence[float], target: KpiTarget) -> tuple[float, float]:
    if KPIS[kpi].measure is Measure.RATIO:
        return 0.0, 1.0
    edges = [v for v in (target.target, target.floor, target.low, target.high) if v is not None]
    top = max([*values, *edges, 1.0]) * 1.15
    return 0.0, top


def _filled(rect: Rect, colour: str) -> Rect:
    rect.fillColor = colors.HexColor(colour)
    rect.strokeColor = None
    return rect


@dataclass(frozen=True)
class Plot:
    """A chart's frame: where the 13 months and the value scale sit on the drawing."""

    low: float
    high: float
    left: float = 12 * mm
    bottom: float = 9 * mm
    width: float = CHART_W - 16 * mm
    height: float = CHART_H - 20 * mm

    def y(self, value: float) -> float:
        share = (min(max(value, self.low), self.high) - self.low) / (self.high - self.low)
        return float(self.bottom + self.height * share)

    def x(self, month: int) -> float:
        return float(self.left + self.width * month / 12)


def _series(kpi: str, context: PackContext) -> list[tuple[int, float]]:
    """(month 0 to 12, the council's figure) for each month with a freeze and a figure."""
    by_month = {f.month: f for f in (*context.earlier, context.freeze)}
    points = []
    for n, month in enumerate(trend_months(context.freeze.month)):
        held = by_month.get(month)
        figure: FrozenFigure | None = headline(held, kpi, "council", "all") if held else None
        if figure is not None and figure.value is not None:
            points.append((n, figure.value))
    return points


def _bands(drawing: Drawing, plot: Plot, target: KpiTarget, polarity: Polarity) -> None:
    bands = rag_bands(target, polarity)
    for i, (edge, rating) in enumerate(bands):
        start = plot.low if edge is None else edge
        end = bands[i + 1][0] if i + 1 < len(bands) else plot.high
        assert end is not None
        if end <= plot.low or start >= plot.high:
            continue
        box = Rect(plot.left, plot.y(start), plot.width, plot.y(end) - plot.y(start))
        drawing.add(_filled(box, BAND_TINTS[rating]))
        middle = (plot.y(start) + plot.y(end)) / 2 - 2
        drawing.add(String(plot.left + plot.width + 1, middle, rating.value[0], fontSize=6))


def _target_line(drawing: Drawing, plot: Plot, kpi: str, target: KpiTarget) -> None:
    if target.target is None or target.rag_rule is RagRule.BAND:
        return
    at = plot.y(target.target)
    line = Line(plot.left, at, plot.left + plot.width, at, strokeColor=colors.black)
    line.strokeDashArray, line.strokeWidth = [3, 2], 0.8
    drawing.add(line)
    drawing.add(String(plot.left, at + 1.5, f"target {shown(target.target, kpi)}", fontSize=5.5))


def _axes(drawing: Drawing, plot: Plot, kpi: str, months: Sequence[date]) -> None:
    bottom, left = plot.bottom, plot.left
    drawing.add(Line(left, bottom, left, bottom + plot.height, strokeColor=colors.grey))
    drawing.add(Line(left, bottom, left + plot.width, bottom, strokeColor=colors.grey))
    for value in (plot.low, (plot.low + plot.high) / 2, plot.high):
        drawing.add(String(1, plot.y(value) - 2, shown(value, kpi), fontSize=5.5))
    for n in (0, 6, 12):
        drawing.add(String(plot.x(n) - 6, bottom - 7, f"{months[n]:%b %y}", fontSize=5.5))


def trend_chart(kpi: str, context: PackContext, target: KpiTarget, polarity: Polarity) -> Drawing:
    """The council's monthly figure over 13 months, the target line and the RAG bands."""
    points = _series(kpi, context)
    plot = Plot(*_scale(kpi, [v for _, v in points], target))
    drawing = Drawing(CHART_W, CHART_H)
    drawing.add(String(0, CHART_H - 4 * mm, kpi, fontSize=7, fontName="Helvetica-Bold"))
    title = KPIS[kpi].title
    title = title if len(title) < 70 else f"{title[:67]}..."
    drawing.add(String(0, CHART_H - 7.5 * mm, title, fontSize=5.5))
    _bands(drawing, plot, target, polarity)
    _target_line(drawing, plot, kpi, target)
    _axes(drawing, plot, kpi, trend_months(context.freeze.month))
    if len(points) > 1:
        path = [c for n, v in points for c in (plot.x(n), plot.y(v))]
        drawing.add(PolyLine(path, strokeWidth=1.2, strokeColor=colors.black))
    for n, v in points:
        drawing.add(_filled(Rect(plot.x(n) - 1.2, plot.y(v) - 1.2, 2.4, 2.4), "#000000"))
    if not points:
        drawing.add(String(plot.left + 4, plot.bottom + plot.height / 2, "no data", fontSize=7))
    return drawing


def _charts(context: PackContext, targets: dict[str, tuple[KpiTarget, Polarity]]) -> Table:
    cells = [trend_chart(kpi, context, *targets[kpi]) for kpi in KPIS]
    rows: list[list[Any]] = [cells[i : i + 3] for i in range(0, len(cells), 3)]
    rows[-1] += [""] * (3 - len(rows[-1]))
    return Table(rows, colWidths=[CHART_W + 4 * mm] * 3, rowHeights=[CHART_H + 3 * mm] * len(rows))


def pdf_bytes(context: PackContext, targets: dict[str, tuple[KpiTarget, Polarity]]) -> bytes:
    """The pack; ``targets`` gives each KPI's target and polarity for its chart."""
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=14 * mm,
        bottomMargin=12 * mm,
        title=_title(context),
        author="casetime",
        invariant=True,
    )
    freeze = context.freeze
    story: list[Any] = [
        Paragraph(_title(context), TITLE),
        Paragraph(
            f"Scorecard for {freeze.month:%B %Y} (KPIs counted on a day: as at"
            f" {freeze.month_end:%d %B %Y}). RAG is computed from the council's targets, never"
            " typed in; * small numbers (a denominator under the council's threshold): shown, not"
            " rated. Frozen figures never change: later events show as revisions in the next"
            " pack.",
            SMALL,
        ),
        Spacer(1, 3 * mm),
        _scorecard(context),
        PageBreak(),
        KeepTogether([Paragraph("Trends: 13 months, council figure by month", TITLE)]),
        _charts(context, targets),
    ]
    decorate = _decorate(context)
    document.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return out.getvalue()
