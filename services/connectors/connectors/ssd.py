"""A child's Standard Safeguarding Dataset rows as casetime events. Each SSD row is one thing
that happened (a referral, an assessment, a plan, a visit), so most rows make their events
directly; periods of care are put together from the child's looked-after episodes (grouped by
their CLA id: started by an episode with RNE S, ended by one that ceased with a reason other
than X1), with the legal status in force when they started. The SSD has no contact or referral
decision time, no strategy discussion, no core group and no court dates (its pre-proceedings
table ends where care proceedings begin): those KPIs get nothing from it, and its events say
so (source dataset "ssd"), so that a contact or referral is never listed as awaiting a decision
the SSD cannot record (README: Connectors)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from connectors.drafts import ChildEvents
from connectors.records import SourceRow

SOURCE = "ssd"
Rows = Mapping[str, list[SourceRow]]


def derive(child_id: str, rows: Sequence[SourceRow], team: str, events: ChildEvents) -> None:
    by: dict[str, list[SourceRow]] = defaultdict(list)
    for row in rows:
        by[row.table].append(row)
    birth = None
    for person in by["ssd_person"]:
        dob = person.fields.get("pers_dob")
        birth = dob[:7] if dob else None
        if birth:
            events.birth_month(birth, person.as_of, person.location)
    _front_door(by, birth, events)
    _child_protection(by, events)
    _looked_after(by, birth, events)
    _pre_proceedings(by, events)
    for r in by["ssd_involvements"]:
        f = r.fields
        events.add(
            "case_allocated",
            "case",
            f["invo_involvement_start_date"],
            r.as_of,
            r.location,
            team=f["invo_professional_team"],
            worker_id=f["invo_professional_id"],
            event_key=r.key,
        )


def _front_door(by: Rows, birth: str | None, events: ChildEvents) -> None:
    for r in by["ssd_contacts"]:
        source = r.fields["cont_contact_source_code"]
        received = {"contact_source": source[:40] if source else None}
        events.add(
            "contact_received", r.key, r.fields["cont_contact_date"], r.as_of, r.location, received
        )
    for r in by["ssd_cin_episodes"]:
        f, team = r.fields, r.fields["cine_referral_team"]
        received = {"referral_source": f["cine_referral_source_code"], "birth_month": birth}
        if not events.add(
            "referral_received",
            r.key,
            f["cine_referral_date"],
            r.as_of,
            r.location,
            received,
            team=team,
        ):
            continue
        if f["cine_close_date"] and f["cine_close_reason"]:
            closed = {"reason_for_closure": f["cine_close_reason"]}
            events.add(
                "case_closed", r.key, f["cine_close_date"], r.as_of, r.location, closed, team=team
            )
    for r in by["ssd_cin_assessments"]:
        f, team = r.fields, r.fields["cina_assessment_team"]
        link = {"referral_id": f["cina_referral_id"]}
        events.add(
            "assessment_started",
            r.key,
            f["cina_assessment_start_date"],
            r.as_of,
            r.location,
            link,
            team=team,
        )
        events.add(
            "assessment_completed",
            r.key,
            f["cina_assessment_auth_date"],
            r.as_of,
            r.location,
            link,
            team=team,
        )


def _pre_proceedings(by: Rows, events: ChildEvents) -> None:
    """Entered on the decision date, concluded on the date agreed to step down or issue."""
    for r in by["ssd_pre_proceedings"]:
        f = r.fields
        day = f["prep_pre_pro_decision_date"]
        if not events.add("plo_started", r.key, day, r.as_of, r.location):
            continue
        if f["prep_agree_stepdown_issue_date"] is None:
            continue
        said = (f["prep_pre_pro_outcome"] or "").lower()
        outcome = "issued" if "issue" in said else "stepped_down" if "step" in said else None
        if outcome is None:
            why = f"prep_pre_pro_outcome {f['prep_pre_pro_outcome']!r}: neither issue nor step down"
            events.skipped.append((r.location, why))
            continue
        concluded = {"outcome": outcome}
        end = f["prep_agree_stepdown_issue_date"]
        events.add("plo_concluded", r.key, end, r.as_of, r.location, concluded)


def _needs(events: ChildEvents, row: SourceRow, column: str) -> bool:
    if row.fields.get(column) is None:
        events.skipped.append((row.location, f"no {column}"))
        return False
    return True


def _child_protection(by: Rows, events: ChildEvents) -> None:
    for r in by["ssd_s47_enquiry"]:
        f, team = r.fields, r.fields["s47e_s47_completed_by_team"]
        if not _needs(events, r, "s47e_referral_id"):
            continue
        events.add(
            "section_47_started",
            r.key,
            f["s47e_s47_start_date"],
            r.as_of,
            r.location,
            {"referral_id": f["s47e_referral_id"]},
            team=team,
        )
        outcome = "icpc_not_required" if f["s47e_s47_nfa"] else "icpc_required"
        events.add(
            "section_47_completed",
            r.key,
            f["s47e_s47_end_date"],
            r.as_of,
            r.location,
            {"outcome": outcome},
            team=team,
        )
    for r in by["ssd_initial_cp_conference"]:
        f = r.fields
        if _needs(events, r, "icpc_s47_enquiry_id"):
            held = {
                "section_47_id": f["icpc_s47_enquiry_id"],
                "child_protection_plan": bool(f["icpc_icpc_outcome_cp_flag"]),
            }
            events.add(
                "initial_cp_conference_held",
                r.key,
                f["icpc_icpc_date"],
                r.as_of,
                r.location,
                held,
                team=f["icpc_icpc_team"],
            )
    _plans(by, events)


def _plans(by: Rows, events: ChildEvents) -> None:
    for r in by["ssd_cp_plans"]:
        f = r.fields
        start = {"initial_conference_id": f["cppl_icpc_id"]}
        events.add(
            "cp_plan_started", r.key, f["cppl_cp_plan_start_date"], r.as_of, r.location, start
        )
        events.add("cp_plan_ended", r.key, f["cppl_cp_plan_end_date"], r.as_of, r.location)
    for r in by["ssd_cp_reviews"]:
        f = r.fields
        if _needs(events, r, "cppr_cp_plan_id"):
            held = {
                "child_protection_plan_id": f["cppr_cp_plan_id"],
                "plan_continues": f["cppr_cp_review_outcome_continue_cp"],
            }
            events.add(
                "review_cp_conference_held",
                r.key,
                f["cppr_cp_review_date"],
                r.as_of,
                r.location,
                held,
            )
    for r in by["ssd_cp_visits"]:
        _visit(r, "cppv_cp_visit", "child_protection", r.fields["cppv_cp_plan_id"], events)


def _visit(
    r: SourceRow, prefix: str, purpose: str, serves: str | None, events: ChildEvents
) -> None:
    f = r.fields
    if f[f"{prefix}_seen"] is None:
        events.skipped.append((r.location, f"no {prefix}_seen"))
        return
    visit = {
        "purpose": purpose,
        "child_seen": f[f"{prefix}_seen"],
        "child_seen_alone": f[f"{prefix}_seen_alone"],
        "serves_episode_id": serves,
    }
    events.add("visit_held", r.key, f[f"{prefix}_date"], r.as_of, r.location, visit)


def _legal_status_on(by: Rows, day: str) -> str | None:
    held = [
        r.fields
        for r in by["ssd_legal_status"]
        if (r.fields["lega_legal_status_start_date"] or "9999") <= day
    ]
    held.sort(key=lambda f: f["lega_legal_status_start_date"])
    return held[-1]["lega_legal_status"] if held else None


def _periods(by: Rows, birth: str | None, events: ChildEvents) -> list[tuple[str, str, str | None]]:
    """Each period of care (its id, start and end), its events added."""
    grouped: dict[str, list[SourceRow]] = defaultdict(list)
    for r in by["ssd_cla_episodes"]:
        if r.fields["clae_cla_episode_start_date"] and _needs(events, r, "clae_cla_id"):
            grouped[r.fields["clae_cla_id"]].append(r)
    periods = []
    for poc, episodes in sorted(grouped.items()):
        episodes.sort(key=lambda r: r.fields["clae_cla_episode_start_date"])
        first, f = episodes[0], episodes[0].fields
        start = f["clae_cla_episode_start_date"]
        status, need = _legal_status_on(by, start), f["clae_cla_primary_need_code"]
        if f["clae_cla_episode_start_reason"] != "S":
            events.skipped.append((first.location, "period of care without its RNE S episode"))
        elif status and need:
            began = {"legal_status": status, "category_of_need": need, "birth_month": birth}
            events.add("period_of_care_started", poc, start, first.as_of, first.location, began)
        else:
            events.skipped.append((first.location, "period of care without legal status or CIN"))
        last = episodes[-1].fields
        ceased = last["clae_cla_episode_ceased_reason"]
        end = last["clae_cla_episode_ceased_date"] if ceased and ceased != "X1" else None
        if end:
            events.add(
                "period_of_care_ended",
                poc,
                end,
                episodes[-1].as_of,
                episodes[-1].location,
                {"reason_episode_ceased": ceased},
            )
        periods.append((poc, start, end))
    return periods


def _looked_after(by: Rows, birth: str | None, events: ChildEvents) -> None:
    periods = _periods(by, birth, events)
    placements = []
    for r in by["ssd_cla_placement"]:
        f = r.fields
        if not (_needs(events, r, "clap_cla_id") and _needs(events, r, "clap_cla_placement_type")):
            continue
        placed = {
            "period_of_care_id": f["clap_cla_id"],
            "placement_type": f["clap_cla_placement_type"],
            "placement_provider": f["clap_cla_placement_provider"],
        }
        start, end = f["clap_cla_placement_start_date"], f["clap_cla_placement_end_date"]
        if events.add("placement_started", r.key, start, r.as_of, r.location, placed):
            placements.append((r.key, start, end))
            events.add(
                "placement_ended",
                r.key,
                end,
                r.as_of,
                r.location,
                {"reason_place_change": f["clap_cla_placement_change_reason"]},
            )
    for r in by["ssd_cla_reviews"]:
        f = r.fields
        if not f["clar_cla_review_cancelled"] and _needs(events, r, "clar_cla_id"):
            events.add(
                "looked_after_review_held",
                r.key,
                f["clar_cla_review_date"],
                r.as_of,
                r.location,
                {"period_of_care_id": f["clar_cla_id"]},
            )
    for r in by["ssd_cla_visits"]:
        day = r.fields["clav_cla_visit_date"] or ""
        serves = [p for p, s, e in placements if s <= day and (e is None or day <= e)]
        _visit(r, "clav_cla_visit", "looked_after", serves[-1] if serves else None, events)
    for r in by["ssd_cla_health"]:
        f = r.fields
        day = f["clah_health_check_date"] or ""
        held = [p for p, s, e in periods if s <= day and (e is None or day <= e)]
        kind = (f["clah_health_check_type"] or "").lower()
        event = "dental_check_held" if "dental" in kind else "health_assessment_held"
        events.add(
            event,
            r.key,
            f["clah_health_check_date"],
            r.as_of,
            r.location,
            {"period_of_care_id": held[-1] if held else None},
        )
