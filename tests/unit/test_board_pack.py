"""The board pack's pure parts (kpi.domain.board_pack) and its workbook (kpi.adapters.xlsx_pack):
a freeze keeps every figure as it stood, revisions are what later events changed, a meeting's
pack is of the latest month complete before its papers deadline, and the same freeze makes the
same bytes, its RAG cells coloured as their words say."""

from __future__ import annotations

import io
import time as clock
from dataclasses import replace
from datetime import UTC, date, datetime, time
from typing import Any

import pytest
from openpyxl import load_workbook

from kpi.adapters.xlsx_pack import RAG_FILLS, xlsx_bytes
from kpi.domain.board_pack import (
    Freeze,
    PackContext,
    freeze_due,
    freeze_of,
    meeting_month,
    papers_deadline,
    quarter_month,
    revisions,
    scorecard_settings,
)
from kpi.domain.calendar import england_calendar
from kpi.domain.council import Comparator, Comparators, CouncilConfig, KpiTarget, NationalQuartile
from kpi.domain.evaluation import Evaluation
from kpi.domain.report import kpi_rows
from tests.support.history import assessed, run

SETTINGS: dict[str, Any] = {
    "small_number_threshold": 0,
    "kpis": {"ASMT-45WD": KpiTarget(target=0.85)},
}
CONFIG = CouncilConfig(council="Test", **SETTINGS)
JANUARY_END = date(2025, 1, 31)
FROZEN_AT = datetime(2025, 2, 3, 18, 0, tzinfo=UTC)


def january(late: bool = False) -> Evaluation:
    """Two assessments authorised in January, one in time; ``late``: a third, in time, that
    reaches casetime after the freeze."""
    events = [
        *assessed("A1", "2024-12-02", "2025-01-10", "North"),
        *assessed("A2", "2024-10-01", "2025-01-15", "North"),
    ]
    if late:
        events += assessed("A3", "2024-12-16", "2025-01-20", "South")
    return run(events, JANUARY_END, **SETTINGS)


def frozen(evaluation: Evaluation) -> Freeze:
    rows = kpi_rows(evaluation, CONFIG, lambda day: run([], day, **SETTINGS))
    return freeze_of(date(2025, 1, 1), FROZEN_AT, 9, rows, evaluation)


def test_a_freeze_keeps_every_figure_and_comes_back_the_same_from_its_json() -> None:
    freeze = frozen(january())
    council = freeze.figure("ASMT-45WD", "month", "council", "all")
    assert council is not None
    assert (council.numerator, council.denominator, council.rag) == (1, 2, "Red")
    assert Freeze.from_json(freeze.to_json()) == freeze


def test_late_events_are_revisions_of_the_frozen_month_and_nothing_else_is() -> None:
    freeze = frozen(january())
    now = january(late=True)
    rows = kpi_rows(now, CONFIG, lambda day: run([], day, **SETTINGS))
    found = revisions(freeze, rows, {"South": 4})
    asmt = [r for r in found if r.kpi == "ASMT-45WD" and r.period == "month"]
    by_unit = {(r.level, r.unit_name): r for r in asmt}
    council = by_unit[("council", "all")]
    assert (council.old.numerator, council.old.denominator) == (1, 2)
    assert (council.new.numerator, council.new.denominator) == (2, 3)
    assert council.late_events == 4
    # South had nothing in January when it was frozen
    south = by_unit[("team", "South")]
    assert (south.old.denominator, south.new.denominator, south.late_events) == (0, 1, 4)
    assert ("team", "North") not in by_unit  # North's figure did not move
    assert revisions(freeze, kpi_rows(january(), CONFIG, lambda d: run([], d)), {}) == []


@pytest.mark.parametrize(
    ("meeting", "deadline", "month"),
    [
        # Friday 20 November 2026: papers by Tuesday the 17th, on October
        (date(2026, 11, 20), date(2026, 11, 17), date(2026, 10, 1)),
        # Friday 4 December 2026: papers by Tuesday 1 December, on November
        (date(2026, 12, 4), date(2026, 12, 1), date(2026, 11, 1)),
        # Wednesday 3 December 2025: papers by Friday 28 November, so October
        (date(2025, 12, 3), date(2025, 11, 28), date(2025, 10, 1)),
        # Tuesday 30 December 2025: three working days back skips Christmas and Boxing Day
        (date(2025, 12, 30), date(2025, 12, 23), date(2025, 11, 1)),
    ],
)
def test_a_meetings_pack_is_of_the_latest_month_complete_before_its_papers_deadline(
    meeting: date, deadline: date, month: date
) -> None:
    calendar = england_calendar()
    assert papers_deadline(meeting, calendar) == deadline
    assert meeting_month(meeting, calendar) == month


def test_a_financial_quarter_is_reported_by_its_last_month() -> None:
    assert quarter_month(2026, 1) == date(2026, 6, 1)
    assert quarter_month(2026, 2) == date(2026, 9, 1)
    assert quarter_month(2026, 4) == date(2027, 3, 1)
    with pytest.raises(ValueError, match="1 to 4"):
        quarter_month(2026, 5)


def test_the_same_freeze_makes_the_same_workbook_with_rag_cells_coloured_as_their_words() -> None:
    freeze = frozen(january())
    context = PackContext("Test", freeze, [])
    first = xlsx_bytes(context)
    clock.sleep(1.1)  # a zip entry's time, and the file's own modified time, are to the second
    assert xlsx_bytes(context) == first
    book = load_workbook(io.BytesIO(first))
    assert book.sheetnames == [
        "About", "Scorecard", "Teams", "Trend", "Exceptions", "Revisions", "Data quality",
    ]  # fmt: skip
    scorecard = book["Scorecard"]
    header = [c.value for c in scorecard[1]]
    rag = header.index("RAG") + 1
    rows = {row[0].value: row for row in scorecard.iter_rows(min_row=2)}
    asmt = rows["ASMT-45WD"]
    assert asmt[header.index("This month")].value == 0.5
    assert asmt[header.index("Numerator")].value == 1
    assert asmt[header.index("Denominator")].value == 2
    assert asmt[rag - 1].value == "Red"
    for row in scorecard.iter_rows(min_row=2):
        word = row[rag - 1].value
        assert row[rag - 1].fill.fgColor.rgb == f"00{RAG_FILLS[str(word)]}", row[0].value
    assert scorecard.freeze_panes == "B2"
    assert scorecard.page_setup.orientation == "landscape"


@pytest.mark.parametrize(
    ("today", "clock", "due"),
    [
        (date(2026, 12, 3), time(5, 59), None),  # before 06:00 on the 3rd
        (date(2026, 12, 3), time(6, 0), date(2026, 11, 1)),
        (date(2026, 12, 2), time(23, 0), None),
        (date(2026, 12, 20), time(0, 0), date(2026, 11, 1)),
        (date(2027, 1, 3), time(6, 0), date(2026, 12, 1)),  # December, across the year
    ],
)
def test_a_scheduled_freeze_is_due_for_the_month_before_from_its_day_and_time(
    today: date, clock: time, due: date | None
) -> None:
    assert freeze_due(today, clock, 3, time(6, 0)) == due


PLANNED = CouncilConfig(
    council="Test",
    small_number_threshold=0,
    kpis={
        "ASMT-45WD": KpiTarget(
            target=0.85,
            milestone=0.75,
            next_year_target=0.9,
            national_quartile=NationalQuartile(quartile=3, year="2024-25"),
            comparators=Comparators(last_year=Comparator(value=0.62, year="2023-24")),
        ),
        "REREFERRAL-12M": KpiTarget(rag_rule="band", low=0.18, high=0.22),
    },
)


def planned(month: date, evaluation: Evaluation) -> Freeze:
    rows = kpi_rows(evaluation, PLANNED, lambda day: run([], day, **SETTINGS))
    return freeze_of(month, FROZEN_AT, 9, rows, evaluation, settings=scorecard_settings(PLANNED))


def scorecard(context: PackContext) -> dict[str, dict[str, Any]]:
    sheet = load_workbook(io.BytesIO(xlsx_bytes(context)))["Scorecard"]
    header = [str(c.value) for c in sheet[1]]
    return {
        str(row[0]): dict(zip(header, row, strict=True))
        for row in sheet.iter_rows(min_row=2, values_only=True)
    }


def test_the_scorecard_has_the_councils_columns_as_the_council_file_stood_at_the_freeze() -> None:
    freeze = planned(date(2025, 1, 1), january())
    assert Freeze.from_json(freeze.to_json()) == freeze
    rows = scorecard(PackContext("Test", freeze, []))
    asmt = rows["ASMT-45WD"]
    assert (asmt["Aim"], asmt["Target"], asmt["Milestone"]) == ("Higher", 0.85, 0.75)
    assert (asmt["Next year's target"], asmt["National quartile"]) == (0.9, "Q3 2024-25")
    assert asmt["This year to date"] == 0.5
    # no March freeze held: last year is the council file's published figure
    assert asmt["Last year"] == 0.62
    assert rows["REREFERRAL-12M"]["Aim"] == "Band 18.0% to 22.0%"
    assert rows["CPP-REPEAT"]["Aim"] == "Lower"
    # a freeze made before the settings were kept still makes a pack, with those cells empty
    bare = scorecard(PackContext("Test", replace(freeze, settings=()), []))
    assert (bare["ASMT-45WD"]["Milestone"], bare["ASMT-45WD"]["Last year"]) == (None, None)


def test_last_year_is_the_year_to_date_frozen_at_the_end_of_last_march() -> None:
    march = run(
        [
            *assessed("M1", "2025-02-03", "2025-03-10", "North"),
            *assessed("M2", "2024-12-02", "2025-01-10", "North"),
            *assessed("M3", "2024-10-01", "2025-01-15", "North"),
            *assessed("M4", "2024-01-02", "2024-03-20", "North"),  # the year before: not in it
        ],
        date(2025, 3, 31),
        **SETTINGS,
    )
    held = planned(date(2025, 3, 1), march)
    year = held.figure("ASMT-45WD", "financial_year_to_date", "council", "all")
    assert year is not None
    assert (year.numerator, year.denominator) == (2, 3)
    april = planned(date(2025, 4, 1), run([], date(2025, 4, 30), **SETTINGS))
    rows = scorecard(PackContext("Test", april, [held]))
    assert rows["ASMT-45WD"]["Last year"] == pytest.approx(2 / 3)
    # a March of another year is not last year
    older = replace(held, month=date(2024, 3, 1))
    assert scorecard(PackContext("Test", april, [older]))["ASMT-45WD"]["Last year"] == 0.62


def test_extract_chooses_the_month_from_a_month_a_quarter_or_a_meeting() -> None:
    from casetime_tools.cli import pack_month

    meeting = datetime(2026, 12, 4)  # a Friday
    assert pack_month(None, None, meeting) == date(2026, 11, 1)  # papers by 1 December
    assert pack_month(None, None, meeting, papers_working_days=5) == date(2026, 10, 1)
    assert pack_month(None, "2026-Q2", None) == date(2026, 9, 1)
    assert pack_month("2026-07", None, None) == date(2026, 7, 1)
