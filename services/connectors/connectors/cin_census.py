"""The children in need census (DfE's CIN XML return) as source rows, and a child's rows as
casetime events.

One row per child (its month of birth) and one per CINdetails (a referral and everything under
it: assessments, section 47 enquiries and their conferences, CIN plans, CP plans and their
review conferences), keyed by the referral date, so a later census's record of the same
referral replaces the earlier one. The census carries no referral decision time, no strategy
discussion (its date is the section 47's start, but not who attended), no section 47 end and
no core group: those KPIs get nothing from it (README: Connectors)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path
from typing import Any

from lxml import etree

from connectors.drafts import ChildEvents
from connectors.pseudonyms import Pseudonyms, stable_id
from connectors.records import (
    ImportReport,
    RecordError,
    SourceRow,
    parse_date,
    parse_yes_no,
)

SOURCE = "cin"
# no entities, no network: a return is data, never instructions to fetch anything
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_comments=True)


def _text(element: Any, path: str) -> str | None:
    found = element.find(path)
    if found is None or found.text is None or not found.text.strip():
        return None
    return str(found.text).strip()


def _date(element: Any, path: str) -> str | None:
    day = parse_date(_text(element, path), path)
    return None if day is None else day.isoformat()


def _dates(element: Any, path: str) -> list[str]:
    days = [parse_date(e.text, path) for e in element.findall(path)]
    return sorted(d.isoformat() for d in days if d is not None)


def _assessments(details: Any) -> list[dict[str, Any]]:
    return [
        {
            "start": _date(a, "AssessmentActualStartDate"),
            "authorised": _date(a, "AssessmentAuthorisationDate"),
            "factors": sorted(
                {f.text.strip() for f in a.iter("AssessmentFactors") if f.text and f.text.strip()}
            ),
        }
        for a in details.findall("Assessments")
    ]


def _section_47s(details: Any) -> list[dict[str, Any]]:
    return [
        {
            "start": _date(s, "S47ActualStartDate"),
            "icpc": _date(s, "DateOfInitialCPC"),
            "icpc_not_required": parse_yes_no(_text(s, "ICPCnotRequired"), "ICPCnotRequired"),
        }
        for s in details.findall("Section47")
    ]


def _plans(details: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    cp = [
        {
            "start": _date(p, "CPPstartDate"),
            "end": _date(p, "CPPendDate"),
            "reviews": _dates(p, "Reviews/CPPreviewDate"),
        }
        for p in details.findall("ChildProtectionPlans")
    ]
    cin = [
        {"start": _date(p, "CINPlanStartDate"), "end": _date(p, "CINPlanEndDate")}
        for p in details.findall("CINPlanDates")
    ]
    return cp, cin


def _pre_proceedings(details: Any) -> list[dict[str, Any]]:
    """The 2025/26 collection's pre-proceedings module (no published XSD defines it yet)."""
    return [
        {
            "start": _date(p, "PPStartDate"),
            "concluded": _date(p, "StepDecisionDate"),
            "court_application": _date(p, "CourtAppDate"),
        }
        for p in details.findall("PreProceedingsandFGDM")
    ]


def details_fields(details: Any) -> dict[str, Any]:
    """A CINdetails element as a row's fields (RecordError names a value that cannot be read)."""
    cp_plans, cin_plans = _plans(details)
    return {
        "referral_date": _date(details, "CINreferralDate"),
        "referral_source": _text(details, "ReferralSource"),
        "no_further_action": parse_yes_no(_text(details, "ReferralNFA"), "ReferralNFA"),
        "primary_need": _text(details, "PrimaryNeedCode"),
        "closure_date": _date(details, "CINclosureDate"),
        "closure_reason": _text(details, "ReasonForClosure"),
        "icpc": _date(details, "DateOfInitialCPC"),
        "assessments": _assessments(details),
        "section_47s": _section_47s(details),
        "cp_plans": cp_plans,
        "cin_plans": cin_plans,
        "pre_proceedings": _pre_proceedings(details),
    }


class ReturnFileError(ValueError):
    """A file that cannot be imported at all; the message names the file and line."""


def parse_xml(path: Path) -> Any:
    try:
        return etree.parse(str(path), PARSER)
    except (etree.XMLSyntaxError, OSError) as exc:
        raise ReturnFileError(f"{path.name}: not a readable XML file: {exc}") from None


def schema_findings(tree: Any, schema: Path | None, name: str, strict: bool = False) -> list[str]:
    """What the year's XSD finds in the file, each with its line (none without an XSD); with
    ``strict``, the first refuses the file."""
    if schema is None or not schema.exists():
        return []
    xsd = etree.XMLSchema(etree.parse(str(schema), PARSER))
    if xsd.validate(tree):
        return []
    errors = list(xsd.error_log)  # type: ignore[call-overload]
    found = [f"{name}:{e.line}: {schema.name}: {e.message}" for e in errors]
    if strict:
        raise ReturnFileError(f"{found[0]} (and {len(found) - 1} more)")
    return found


def _header(root: Any, name: str) -> date:
    text = _text(root, "Header/CollectionDetails/ReferenceDate")
    try:
        day = parse_date(text, "ReferenceDate")
    except RecordError as exc:
        raise ReturnFileError(f"{name}: Header: {exc}") from None
    if day is None:
        raise ReturnFileError(
            f"{name}: no Header/CollectionDetails/ReferenceDate: not a CIN census"
        )
    return day


def read_census(
    path: Path,
    pseudonyms: Pseudonyms,
    report: ImportReport,
    schemas: Path | None = None,
    strict: bool = False,
) -> list[SourceRow]:
    """The census file's rows; each record that cannot be read is in the report, skipped. The
    file is checked against the XSD of its collection year (``CIN_schema_<year>.xsd`` in
    ``schemas``, the year of its 31 March reference date) where there is one: findings are
    notes, or with ``strict`` refuse the file."""
    tree = parse_xml(path)
    root = tree.getroot()
    as_of = _header(root, path.name)
    schema = schemas / f"CIN_schema_{as_of.year}.xsd" if schemas else None
    report.notes += schema_findings(tree, schema, path.name, strict)
    report.files.append(path.name)
    rows: list[SourceRow] = []
    for child in root.iterfind("Children/Child"):
        rows += _child_rows(child, tree, path.name, as_of, pseudonyms, report)
    return rows


def _child_rows(
    child: Any, tree: Any, name: str, as_of: date, pseudonyms: Pseudonyms, report: ImportReport
) -> Iterator[SourceRow]:
    where = f"{name}:{child.sourceline} {tree.getpath(child)}"
    local_id = _text(child, "ChildIdentifiers/LAchildID")
    if local_id is None:
        report.skip(where, "no ChildIdentifiers/LAchildID")
        return
    child_id = pseudonyms.child(local_id)
    try:
        born = parse_date(_text(child, "ChildIdentifiers/PersonBirthDate"), "PersonBirthDate")
    except RecordError as exc:
        report.skip(where, str(exc))
        born = None
    report.children.add(child_id)
    birth = {"birth_month": f"{born:%Y-%m}" if born else None}
    yield SourceRow("child", child_id, "", as_of, birth, where)
    for details in child.iterfind("CINdetails"):
        at = f"{name}:{details.sourceline} {tree.getpath(details)}"
        try:
            fields = details_fields(details)
        except RecordError as exc:
            report.skip(at, str(exc))
            continue
        if fields["referral_date"] is None:
            report.skip(at, "no CINreferralDate")
            continue
        report.episodes += 1
        report.episode_children.add(child_id)
        report.rows["cin_details"] += 1
        yield SourceRow("cin_details", child_id, fields["referral_date"], as_of, fields, at)


def derive(child_id: str, rows: Sequence[SourceRow], team: str, events: ChildEvents) -> None:
    """The child's events from its census rows (into ``events``)."""
    birth_month = None
    for row in rows:
        if row.table == "child":
            birth_month = row.fields.get("birth_month")
            if birth_month:
                events.birth_month(birth_month, row.as_of, row.location)
    for row in rows:
        if row.table == "cin_details":
            _referral(child_id, row, birth_month, events)


def _referral(child_id: str, row: SourceRow, birth_month: str | None, events: ChildEvents) -> None:
    f, known, at = row.fields, row.as_of, row.location
    ref = stable_id("ref", child_id, f["referral_date"])
    payload = {"referral_source": f.get("referral_source"), "birth_month": birth_month}
    if not events.add("referral_received", ref, f["referral_date"], known, at, payload):
        return  # nothing under a referral casetime cannot hold
    if f.get("closure_date"):
        if f.get("closure_reason"):
            reason = {"reason_for_closure": f["closure_reason"]}
            events.add("case_closed", ref, f["closure_date"], known, at, reason)
        else:
            events.skipped.append((at, "CINclosureDate without ReasonForClosure"))
    for a in f.get("assessments", []):
        asm = stable_id("asm", child_id, ref, a["start"])
        events.add("assessment_started", asm, a["start"], known, at, {"referral_id": ref})
        done = {"referral_id": ref, "factors": a["factors"]}
        events.add("assessment_completed", asm, a["authorised"], known, at, done)
    plan_starts = {p["start"] for p in f.get("cp_plans", [])}
    conferences = _enquiries(child_id, ref, f, plan_starts, events, known, at)
    for p in f.get("cp_plans", []):
        cpp = stable_id("cpp", child_id, ref, p["start"])
        start = {"initial_conference_id": conferences.get(p["start"])}
        if events.add("cp_plan_started", cpp, p["start"], known, at, start):
            events.add("cp_plan_ended", cpp, p["end"], known, at)
            for review in p["reviews"]:
                rcpc = stable_id("rcpc", child_id, cpp, review)
                link = {"child_protection_plan_id": cpp}
                events.add("review_cp_conference_held", rcpc, review, known, at, link)
    for p in f.get("cin_plans", []):
        cinp = stable_id("cinp", child_id, ref, p["start"])
        if events.add("cin_plan_started", cinp, p["start"], known, at):
            events.add("cin_plan_ended", cinp, p["end"], known, at)
    for p in f.get("pre_proceedings", []):
        plo = stable_id("plo", child_id, ref, p["start"])
        if events.add("plo_started", plo, p["start"], known, at) and p["concluded"]:
            # PPOutcome's codes are defined nowhere yet: a court application means issued
            issued = {"outcome": "issued" if p["court_application"] else "stepped_down"}
            events.add("plo_concluded", plo, p["concluded"], known, at, issued)


def _enquiries(
    child_id: str,
    ref: str,
    f: dict[str, Any] | Any,
    plan_starts: set[str],
    events: ChildEvents,
    known: date,
    at: str,
) -> dict[str, str]:
    """Section 47 enquiries and their initial conferences (the census gives a conference date
    per enquiry, and the one that led to the plan on the referral); the conferences by date."""
    conferences: dict[str, str] = {}
    enquiries = sorted(
        (s for s in f.get("section_47s", []) if s["start"]), key=lambda s: s["start"]
    )
    held = [(s["start"], s["icpc"]) for s in enquiries if s["icpc"]]
    if f.get("icpc") and f["icpc"] not in {icpc for _, icpc in held}:
        before = [s["start"] for s in enquiries if s["start"] <= f["icpc"]]
        if before:
            held.append((before[-1], f["icpc"]))
        else:
            events.skipped.append((at, "DateOfInitialCPC without a section 47 before it"))
    for s in enquiries:
        s47 = stable_id("s47", child_id, ref, s["start"])
        events.add("section_47_started", s47, s["start"], known, at, {"referral_id": ref})
    for start, day in held:
        s47 = stable_id("s47", child_id, ref, start)
        icpc = stable_id("icpc", child_id, ref, day)
        payload = {"section_47_id": s47, "child_protection_plan": day in plan_starts}
        if events.add("initial_cp_conference_held", icpc, day, known, at, payload):
            conferences[day] = icpc
    return conferences
