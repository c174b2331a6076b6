"""The returns importers' pure parts on the public synthetic samples (../shared/samples): every
child and episode in a file is read (counted here independently, straight from the file), the
events they make are valid casetime events with ids that depend only on the record, a later
return's record replaces an earlier one's whatever the order, and a malformed record or file
gets an error naming it. Also what a connector posts against what it posted before."""

from __future__ import annotations

import csv
import json
import random
import re
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from lxml import etree

from casetime.events import parse_event
from connectors import cin_census
from connectors.drafts import ChildEvents, Draft, Posted, plan
from connectors.pseudonyms import Pseudonyms, stable_id
from connectors.records import ImportReport, SourceRow
from connectors.returns import ReturnOptions, derive_all, read_rows
from tests.support.samples import SAMPLES, needs_samples

CIN = SAMPLES / "cin-census"
S903 = SAMPLES / "ssda903"
PSEUDONYMS = Pseudonyms("a council's secret, for tests only")
NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)

pytestmark = needs_samples


def drafts_of(kind: str, rows: Sequence[SourceRow]) -> list[Draft]:
    return derive_all(kind, rows, "Imported")


@pytest.mark.parametrize("path", sorted(CIN.glob("*.xml")), ids=lambda p: p.name)
def test_every_child_and_referral_of_a_census_is_read(path: Path) -> None:
    root = etree.parse(str(path)).getroot()
    report = ImportReport("cin")
    rows = read_rows("cin", [path], ReturnOptions(PSEUDONYMS, schemas=CIN / "schema"), report)
    assert len(report.children) == len(root.findall("Children/Child"))
    assert report.episodes == len(root.findall("Children/Child/CINdetails"))
    assert len([r for r in rows if r.table == "cin_details"]) == report.episodes
    drafts = drafts_of("cin", rows)
    for draft in drafts:
        parse_event(json.dumps(draft.body(1)))  # casetime takes every one
    # no case system id anywhere: only the pseudonymous one
    ids = {e.text for e in root.iter("LAchildID")}
    assert not [d for d in drafts if any(i and i in json.dumps(d.body(1)) for i in ids)]


def test_the_volume_census_makes_the_events_its_modules_hold() -> None:
    path = CIN / "fake_CIN_data.xml"
    report = ImportReport("cin")
    rows = read_rows("cin", [path], ReturnOptions(PSEUDONYMS), report)
    assert (len(report.children), report.episodes) == (332, 402)
    kinds = {d.event_type for d in drafts_of("cin", rows)}
    assert {"referral_received", "case_closed", "child_details_recorded"} <= kinds
    # the file holds no assessments, section 47 or CP plans modules (samples README), so its
    # conference dates have no enquiry to hang on: each is skipped, and said so
    assert not kinds & {"assessment_started", "cp_plan_started", "initial_cp_conference_held"}
    events = ChildEvents("cin", "ch.x", "Imported")
    for row in rows:
        if row.table == "cin_details" and row.fields["icpc"]:
            cin_census.derive(row.child, [row], "Imported", events)
    reasons = [why for _, why in events.skipped]
    assert reasons.count("DateOfInitialCPC without a section 47 before it") >= 300


def test_a_census_checked_against_its_years_schema_notes_what_it_refuses() -> None:
    report = ImportReport("cin")
    options = ReturnOptions(PSEUDONYMS, schemas=CIN / "schema")
    read_rows("cin", [CIN / "fake_CIN_data.xml"], options, report)
    # 2022's schema allows 0/1 for ReferralNFA, the file writes true: one finding a referral
    assert len(report.notes) == 402
    assert all("CIN_schema_2022.xsd" in n and "ReferralNFA" in n for n in report.notes)
    strict = ReturnOptions(PSEUDONYMS, schemas=CIN / "schema", strict=True)
    with pytest.raises(cin_census.ReturnFileError, match=r"fake_CIN_data.xml:\d+:.*ReferralNFA"):
        read_rows("cin", [CIN / "fake_CIN_data.xml"], strict, ImportReport("cin"))


@pytest.mark.parametrize("path", sorted(CIN.glob("*.xml")), ids=lambda p: p.name)
def test_every_deliberately_invalid_census_fixture_is_noted_or_refused_by_line(path: Path) -> None:
    """The samples break their year's schema on purpose (stray text, true for 1, Sex in the
    wrong year, the pre-proceedings module): each finding names the file, line and element; by
    default the file is imported with them as notes, and --strict refuses it."""
    report = ImportReport("cin")
    rows = read_rows("cin", [path], ReturnOptions(PSEUDONYMS, schemas=CIN / "schema"), report)
    assert rows
    assert report.notes
    assert all(re.match(rf"{re.escape(path.name)}:\d+: CIN_schema_20\d\d\.xsd: Element '", n)
               for n in report.notes), report.notes  # fmt: skip
    strict = ReturnOptions(PSEUDONYMS, schemas=CIN / "schema", strict=True)
    with pytest.raises(cin_census.ReturnFileError, match=rf"^{re.escape(path.name)}:\d+: "):
        read_rows("cin", [path], strict, ImportReport("cin"))


def csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_every_episode_review_and_child_of_a_903_is_read_from_its_tables_and_its_xml() -> None:
    fake = S903 / "validator-fake"
    report = ImportReport("903")
    rows = read_rows("903", [fake], ReturnOptions(PSEUDONYMS), report)
    episodes = csv_rows(fake / "episodes.csv")
    assert report.episodes == len(episodes) == 5050
    assert len(report.episode_children) == len({e["CHILD"] for e in episodes}) == 2123
    assert report.rows["reviews"] == len(csv_rows(fake / "reviews.csv"))
    assert report.rows["header"] == len(csv_rows(fake / "header.csv"))
    assert any("sw_episodes.csv: not read" in n for n in report.notes)  # the BOM file
    # the collection ends on the 31 March after its latest DECOM (2018-03-31)
    assert {r.as_of for r in rows} == {date(2018, 3, 31)}
    xml = S903 / "validator-fake" / "fake_903.xml"
    root = etree.parse(str(xml)).getroot()
    report = ImportReport("903")
    schemas = S903 / "schema"
    read_rows("903", [xml], ReturnOptions(PSEUDONYMS, schemas=schemas), report)
    assert report.episodes == len(root.findall("CHILD/EPISODE")) == 459
    assert len(report.children) == len(root.findall("CHILD")) == 253
    assert report.notes == []  # it validates against CLA.xsd
    both = read_rows("903", [fake, xml], ReturnOptions(PSEUDONYMS), ImportReport("903"))
    for draft in drafts_of("903", both):
        parse_event(json.dumps(draft.body(1)))


def test_three_years_of_903_make_the_same_events_in_any_order_and_each_year_its_own_date() -> None:
    years = [
        sorted((S903 / "multi-year").glob(f"{year}-*.csv")) for year in ("2019", "2020", "2021")
    ]
    by_year = [read_rows("903", y, ReturnOptions(PSEUDONYMS), ImportReport("903")) for y in years]
    assert [{r.as_of for r in rows} for rows in by_year] == [
        {date(2020, 3, 31)},
        {date(2021, 3, 31)},
        {date(2022, 3, 31)},
    ]
    in_order = drafts_of("903", [r for rows in by_year for r in rows])
    shuffled = [r for rows in (by_year[2], by_year[0], by_year[1]) for r in rows]
    random.Random(7).shuffle(shuffled)
    assert drafts_of("903", shuffled) == in_order
    # child 502939's period of care runs on from the 2019/20 return into 2020/21's, which ends
    # it on 19 March 2021: one period, under the same id, ended by the later return
    child = PSEUDONYMS.child("502939")
    period = stable_id("poc", child, "2019-03-30")
    ended = [
        (d.episode_id, d.occurred_at)
        for d in in_order
        if d.child_id == child and d.event_type == "period_of_care_ended"
    ]
    assert ended == [(period, "2021-03-19")]
    first_year = [d for d in drafts_of("903", by_year[0]) if d.child_id == child]
    assert {d.payload.get("period_of_care_id") for d in first_year} >= {period}
    assert not [d for d in first_year if d.event_type == "period_of_care_ended"]
    assert len(in_order) > 3000


def test_a_child_id_is_the_same_for_the_same_secret_and_never_the_case_systems() -> None:
    assert PSEUDONYMS.child("566910") == PSEUDONYMS.child(" 566910 ")
    assert PSEUDONYMS.child("566910") != Pseudonyms("another council's secret").child("566910")
    assert "566910" not in PSEUDONYMS.child("566910")
    child = PSEUDONYMS.child("9434765919")  # an NHS number's shape goes in: a token comes out
    details = Draft("e", "child_details_recorded", child, "child", "2024-01-01", "2024-01-02", "T")
    parse_event(json.dumps(details.body(1)))
    with pytest.raises(ValueError, match="16 characters"):
        Pseudonyms("short")
    assert stable_id("ref", "ch.1", "2024-01-01") == stable_id("ref", "ch.1", "2024-01-01")


def test_the_2026_censuss_pre_proceedings_module_makes_a_plo_episode(tmp_path: Path) -> None:
    source = (CIN / "CIN_Census_2026.xml").read_text()

    def plo_events(text: str) -> tuple[list[Draft], list[str]]:
        path = tmp_path / "census.xml"
        path.write_text(text)
        report = ImportReport("cin")
        rows = read_rows("cin", [path], ReturnOptions(PSEUDONYMS), report)
        events = ChildEvents("cin", "ch.x", "Imported")
        for row in rows:
            cin_census.derive(row.child, [row], "Imported", events)
        plo = [d for d in events.drafts if d.event_type.startswith("plo_")]
        return plo, [why for _, why in events.skipped if why.startswith("plo_")]

    # the fixture's dates fall after its own reference date: skipped, and said so
    assert plo_events(source) == (
        [],
        ["plo_started on 2026-09-09: after the source's date 2024-03-31"],
    )
    later = source.replace("<ReferenceDate>2024-03-31<", "<ReferenceDate>2027-03-31<")
    plo, _ = plo_events(later)
    assert [(d.event_type, d.occurred_at, dict(d.payload)) for d in plo] == [
        ("plo_started", "2026-09-09", {}),
        ("plo_concluded", "2026-12-01", {"outcome": "issued"}),  # a court application followed
    ]
    assert plo[0].source_dataset == "cin_census"
    no_court = later.replace("<CourtAppDate>2026-12-18</CourtAppDate>", "")
    assert plo_events(no_court)[0][1].payload == {"outcome": "stepped_down"}


def test_malformed_files_and_records_get_errors_naming_them(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_text("<Message><Header>")
    with pytest.raises(cin_census.ReturnFileError, match=r"broken\.xml: not a readable XML"):
        read_rows("cin", [broken], ReturnOptions(PSEUDONYMS), ImportReport("cin"))
    census = (CIN / "CIN2rows.xml").read_text()
    bad = tmp_path / "bad-date.xml"
    bad.write_text(census.replace("<CINreferralDate>", "<CINreferralDate>31/12/", 1))
    report = ImportReport("cin")
    read_rows("cin", [bad], ReturnOptions(PSEUDONYMS), report)
    assert report.episodes == 0
    [skipped] = report.skipped
    assert skipped.location.startswith("bad-date.xml:")
    assert "/Message/Children/Child/CINdetails" in skipped.location
    assert "CINreferralDate" in skipped.reason
    assert "not a date" in skipped.reason
    headless = tmp_path / "no-header.xml"
    headless.write_text("<Message><Children/></Message>")
    with pytest.raises(cin_census.ReturnFileError, match=r"no-header\.xml: no Header"):
        read_rows("cin", [headless], ReturnOptions(PSEUDONYMS), ImportReport("cin"))
    folder = tmp_path / "903"
    folder.mkdir()
    (folder / "episodes.csv").write_text("CHILD,DECOM,RNE\n1,01/04/2020,S\n")
    with pytest.raises(cin_census.ReturnFileError, match=r"episodes\.csv:1: no column LS, CIN"):
        read_rows("903", [folder], ReturnOptions(PSEUDONYMS), ImportReport("903"))
    header = "CHILD,DECOM,RNE,LS,CIN,PLACE,PLACE_PROVIDER,DEC,REC,REASON_PLACE_CHANGE\n"
    (folder / "episodes.csv").write_text(
        "\ufeff" + header + "1,01/04/2020,S,C2,N1,U1,PR1,,,\n2,2020-13-01,S,C2,N1,U1,PR1,,,\n"
    )
    report = ImportReport("903")
    read_rows("903", [folder], ReturnOptions(PSEUDONYMS), report)
    assert report.episodes == 1
    assert [(s.location, s.reason) for s in report.skipped] == [
        ("episodes.csv:3", "DECOM '2020-13-01' is not a date (dd/mm/yyyy)")
    ]


def draft(event_id: str, day: str = "2024-01-01") -> Draft:
    return Draft(event_id, "referral_received", "ch.1", "ref.1", day, "2024-02-01T00:00:00", "T")


def test_a_connector_posts_the_new_the_changed_and_voids_what_has_gone() -> None:
    first = plan({}, [draft("a"), draft("b")], NOW)
    assert [(b["event_id"], b["revision"]) for b in first.bodies] == [("a", 1), ("b", 1)]
    held = {p.event_id: p for p in first.records}
    again = plan(held, [draft("a"), draft("b")], NOW)
    assert (again.bodies, again.unchanged) == ([], 2)
    moved = plan(held, [draft("a", "2024-01-02")], NOW)
    assert [(b["event_type"], b["event_id"], b["revision"]) for b in moved.bodies] == [
        ("referral_received", "a", 2),
        ("event_voided", "void.1.b", 1),
    ]
    assert moved.bodies[1]["payload"] == {
        "voided_event_id": "b",
        "voided_event_type": "referral_received",
    }
    held |= {p.event_id: p for p in moved.records}
    # b comes back as it was: its void is voided (casetime restores it); voided again later,
    # the second void has an id of its own
    back = plan(held, [draft("a", "2024-01-02"), draft("b")], NOW)
    assert [b["event_id"] for b in back.bodies] == ["unvoid.1.b"]
    assert back.bodies[0]["payload"]["voided_event_id"] == "void.1.b"
    held |= {p.event_id: p for p in back.records}
    gone = plan(held, [draft("a", "2024-01-02")], NOW)
    assert [b["event_id"] for b in gone.bodies] == ["void.2.b"]
    assert isinstance(held["a"], Posted)


def test_every_event_id_is_one_event_of_one_child() -> None:
    rows = read_rows("903", [S903 / "multi-year"], ReturnOptions(PSEUDONYMS), ImportReport("903"))
    rows += read_rows(
        "cin", [CIN / "fake_CIN_data.xml"], ReturnOptions(PSEUDONYMS), ImportReport("cin")
    )
    drafts = derive_all("903", [r for r in rows if r.table in ("header", "episodes", "reviews")])
    drafts += derive_all("cin", [r for r in rows if r.table in ("child", "cin_details")])
    owners: dict[str, set[str]] = defaultdict(set)
    for d in drafts:
        owners[d.event_id].add(d.child_id)
    assert len(owners) == len(drafts)
    assert all(len(children) == 1 for children in owners.values())
