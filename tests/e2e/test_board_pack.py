"""The board pack over HTTP, against the real services in both modes: a month frozen at its
close keeps its figures, which equal /kpis as at the month's end; an event that arrives late
for a frozen month changes nothing in that month's pack and shows in the next one's revisions;
the same month extracted twice is the same file; no child id is anywhere in it."""

from __future__ import annotations

import io
import re
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from openpyxl import load_workbook

from kpi.domain.kpis import KPIS
from tests.e2e.conftest import System, post_and_apply
from tests.support import credentials as authed
from tests.support.browser import ARTEFACTS, artefact
from tests.support.credentials import bearer
from tests.support.history import assessed
from tests.support.scripts import run_script

pytestmark = [pytest.mark.infra, pytest.mark.e2e]

TEAM = "North Assessment"
CHILDREN = ["CPACK-D1", "CPACK-D2", "CPACK-D3", "CPACK-J1"]


def sheet_rows(book: Any, name: str) -> list[dict[str, Any]]:
    sheet = book[name]
    header = [c.value for c in sheet[1]]
    return [
        dict(zip(header, row, strict=True)) for row in sheet.iter_rows(min_row=2, values_only=True)
    ]


def pack(system: System, month: str, token: str | None = None, kind: str = "xlsx") -> bytes:
    headers = bearer(token) if token else {}
    answer = authed.get(f"{system.kpi.url}/packs/{month}.{kind}", headers=headers, timeout=60)
    assert answer.status_code == 200, answer.text
    return answer.content


def freeze(system: System, month: str) -> httpx.Response:
    return authed.post(f"{system.kpi.url}/freezes", params={"month": month}, timeout=300)


def test_a_frozen_month_keeps_its_figures_and_late_events_become_the_next_packs_revisions(
    casetime_system: System, tmp_path: Path
) -> None:
    system = casetime_system
    december = [
        # authorised in December 2024: one within 45 working days of the referral, one not
        *assessed("CPACK-D1", "2024-11-04", "2024-12-06", TEAM),
        *assessed("CPACK-D2", "2024-08-01", "2024-12-10", TEAM),
    ]
    post_and_apply(system, [*december, *assessed("CPACK-J1", "2024-12-02", "2025-01-15", TEAM)])

    made = freeze(system, "2024-12")
    assert made.status_code == 201, made.text
    again = freeze(system, "2024-12")
    assert again.status_code == 200
    assert again.json()["frozen_at"] == made.json()["frozen_at"]
    # as at 14 February 2025, February has not ended
    assert freeze(system, "2025-02").status_code == 409
    assert authed.get(f"{system.kpi.url}/packs/2024-11.xlsx").status_code == 404
    first = pack(system, "2024-12")

    # a December assessment, in time, reaches casetime after the freeze
    post_and_apply(system, assessed("CPACK-D3", "2024-11-18", "2024-12-20", TEAM))
    assert freeze(system, "2025-01").status_code == 201

    # December's pack is what it was, to the byte
    assert pack(system, "2024-12") == first
    december_card = {r["KPI"]: r for r in sheet_rows(load_workbook(io.BytesIO(first)), "Scorecard")}
    assert (december_card["ASMT-45WD"]["Numerator"], december_card["ASMT-45WD"]["Denominator"]) == (
        1,
        2,
    )

    # January's pack: its figures are /kpis' as at 31 January, and December's change is there
    january = pack(system, "2025-01", system.credentials.board)  # a board token will do
    book = load_workbook(io.BytesIO(january))
    api = authed.get(f"{system.kpi.url}/kpis", params={"as_at": "2025-01-31"}, timeout=120).json()
    by_key = {
        (v["kpi"], v["period"], v["team"] or "all"): v
        for v in api["values"]
        if v["level"] != "service"
    }
    checked = 0
    for row in sheet_rows(book, "Scorecard"):
        period = "as_at" if (row["KPI"], "as_at", "all") in by_key else "month"
        figure = by_key[(row["KPI"], period, "all")]
        assert (row["Numerator"], row["Denominator"], row["RAG"]) == (
            figure["numerator"],
            figure["denominator"],
            figure["rag"],
        ), row["KPI"]
        assert row["This month"] == pytest.approx(figure["value"]), row["KPI"]
        checked += 1
    for row in sheet_rows(book, "Teams"):
        figure = by_key[(row["KPI"], row["Period"], row["Team"])]
        assert (row["Numerator"], row["Denominator"], row["RAG"]) == (
            figure["numerator"],
            figure["denominator"],
            figure["rag"],
        )
        checked += 1
    assert checked > 40

    revised = [
        r
        for r in sheet_rows(book, "Revisions")
        if r["KPI"] == "ASMT-45WD" and r["Period"] == "month" and r["Team or service"] == "all"
    ]
    assert len(revised) == 1
    assert (revised[0]["Frozen counts"], revised[0]["Counts now"]) == ("1 / 2", "2 / 3")
    assert revised[0]["Late events"] >= 2  # the referral and the assessment's two events

    # no child id anywhere in either pack, in any part of the file
    for body in (first, january):
        with zipfile.ZipFile(io.BytesIO(body)) as archive:
            text = " ".join(archive.read(n).decode(errors="replace") for n in archive.namelist())
        assert not [child for child in CHILDREN if child in text]

    # a pack needs a reader token
    assert httpx.get(f"{system.kpi.url}/packs/2025-01.xlsx").status_code == 401
    check_the_printed_pack(system, tmp_path)


def check_the_printed_pack(system: System, folder: Path) -> None:
    """The PDF rendered by poppler: titled, every KPI in the scorecard and in a chart of its
    own, RAG words beside the colours, the same bytes twice, no child id."""
    run_script("poppler.sh", "install")
    body = pack(system, "2025-01", kind="pdf")
    assert pack(system, "2025-01", kind="pdf") == body
    path = folder / "pack-2025-01.pdf"
    path.write_bytes(body)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    found = re.search(r"^Pages:\s+(\d+)", info.stdout, re.MULTILINE)
    assert found is not None, info.stdout
    pages = int(found.group(1))
    assert pages >= 3
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Exampleshire County Council: children's services KPIs, January 2025" in text
    assert text.count("RAG key:") == pages  # the key on every page
    for kpi in KPIS:
        # once in the scorecard, once over its chart
        assert len(re.findall(rf"(?<![A-Z-]){re.escape(kpi)}(?![A-Z0-9-])", text)) >= 2, kpi
    assert "Red" in text
    assert "Green" in text
    assert not [child for child in CHILDREN if child in text]
    subprocess.run(
        ["pdftoppm", "-r", "60", "-png", str(path), str(artefact(f"board-pack-{system.mode}"))],
        check=True,
    )
    first = sorted(ARTEFACTS.glob(f"board-pack-{system.mode}-*1.png"))
    assert first
    assert first[0].stat().st_size > 10_000
