"""The Standard Safeguarding Dataset tables a connector reads (definitions:
../shared/samples/ssd/schema/, Data to Insight's SSD), and how each row becomes source-row fields:
ids made pseudonymous (the person by the council's keyed hash, every other id as a keyed token),
dates as ISO text, yes/no as booleans, codes as text. Nothing else of a row is kept."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from connectors.records import RecordError, parse_yes_no


@dataclass(frozen=True)
class SsdTable:
    name: str
    key: str  # the primary key column
    kind: str  # what a row is: its id's prefix (ref, asm, s47, ...)
    person: str  # the child's id column
    ids: tuple[tuple[str, str], ...] = ()  # other id columns and the kind they name
    dates: tuple[str, ...] = ()
    times: tuple[str, ...] = ()  # kept with their time of day (hour clocks)
    flags: tuple[str, ...] = ()
    codes: tuple[str, ...] = ()  # kept as text: codes and team ids
    # a table with no person column reaches the child through another table's:
    # (its column, that table, that table's matching column, that table's person column)
    via: tuple[str, str, str, str] | None = None


def _table(name: str, key: str, kind: str, person: str, **columns: Any) -> SsdTable:
    return SsdTable(name, key, kind, person, **columns)


TABLES: tuple[SsdTable, ...] = (
    _table("ssd_person", "pers_person_id", "person", "pers_person_id", dates=("pers_dob",)),
    _table("ssd_contacts", "cont_contact_id", "con", "cont_person_id",
           times=("cont_contact_date",), codes=("cont_contact_source_code",)),
    _table(
        "ssd_cin_episodes", "cine_referral_id", "ref", "cine_person_id",
        times=("cine_referral_date",), dates=("cine_close_date",), flags=("cine_referral_nfa",),
        codes=("cine_referral_source_code", "cine_close_reason", "cine_referral_team"),
        ids=(("cine_referral_worker_id", "worker"),),
    ),
    _table(
        "ssd_cin_assessments", "cina_assessment_id", "asm", "cina_person_id",
        ids=(("cina_referral_id", "ref"), ("cina_assessment_worker_id", "worker")),
        dates=("cina_assessment_start_date", "cina_assessment_auth_date"),
        codes=("cina_assessment_team",),
    ),
    _table(
        "ssd_s47_enquiry", "s47e_s47_enquiry_id", "s47", "s47e_person_id",
        ids=(("s47e_referral_id", "ref"),),
        dates=("s47e_s47_start_date", "s47e_s47_end_date"), flags=("s47e_s47_nfa",),
        codes=("s47e_s47_completed_by_team",),
    ),
    _table(
        "ssd_initial_cp_conference", "icpc_icpc_id", "icpc", "icpc_person_id",
        ids=(("icpc_s47_enquiry_id", "s47"), ("icpc_referral_id", "ref")),
        dates=("icpc_icpc_date",),
        flags=("icpc_icpc_outcome_cp_flag",), codes=("icpc_icpc_team",),
    ),
    _table(
        "ssd_cp_plans", "cppl_cp_plan_id", "cpp", "cppl_person_id",
        ids=(("cppl_icpc_id", "icpc"),),
        dates=("cppl_cp_plan_start_date", "cppl_cp_plan_end_date"),
    ),
    _table(
        "ssd_cp_reviews", "cppr_cp_review_id", "rcpc", "cppr_person_id",
        ids=(("cppr_cp_plan_id", "cpp"),),
        dates=("cppr_cp_review_date",), flags=("cppr_cp_review_outcome_continue_cp",),
    ),
    _table(
        "ssd_cp_visits", "cppv_cp_visit_id", "vis", "cppv_person_id",
        ids=(("cppv_cp_plan_id", "cpp"),),
        dates=("cppv_cp_visit_date",), flags=("cppv_cp_visit_seen", "cppv_cp_visit_seen_alone"),
    ),
    # before the episodes: a period of care starts with the legal status then in force
    _table("ssd_legal_status", "lega_legal_status_id", "ls", "lega_person_id",
           dates=("lega_legal_status_start_date",), codes=("lega_legal_status",)),
    _table(
        "ssd_cla_episodes", "clae_cla_episode_id", "clae", "clae_person_id",
        ids=(("clae_cla_id", "poc"),),
        dates=("clae_cla_episode_start_date", "clae_cla_episode_ceased_date"),
        codes=("clae_cla_episode_start_reason", "clae_cla_primary_need_code",
               "clae_cla_episode_ceased_reason"),
    ),
    _table(
        "ssd_cla_placement", "clap_cla_placement_id", "pl", "clap_person_id",
        ids=(("clap_cla_id", "poc"),),
        dates=("clap_cla_placement_start_date", "clap_cla_placement_end_date"),
        codes=("clap_cla_placement_type", "clap_cla_placement_provider",
               "clap_cla_placement_change_reason"),
    ),
    _table(
        "ssd_cla_visits", "clav_cla_visit_id", "vis", "clav_person_id",
        ids=(("clav_cla_id", "poc"),),
        dates=("clav_cla_visit_date",), flags=("clav_cla_visit_seen", "clav_cla_visit_seen_alone"),
    ),
    _table(
        "ssd_cla_reviews", "clar_cla_review_id", "lar", "", ids=(("clar_cla_id", "poc"),),
        dates=("clar_cla_review_date",), flags=("clar_cla_review_cancelled",),
        via=("clar_cla_id", "ssd_cla_episodes", "clae_cla_id", "clae_person_id"),
    ),
    _table("ssd_cla_health", "clah_health_check_id", "hc", "clah_person_id",
           dates=("clah_health_check_date",), codes=("clah_health_check_type",)),
    _table(
        "ssd_involvements", "invo_involvements_id", "invo", "invo_person_id",
        ids=(("invo_professional_id", "worker"),), dates=("invo_involvement_start_date",),
        codes=("invo_professional_team",),
    ),
    _table("ssd_pre_proceedings", "prep_table_id", "plo", "prep_person_id",
           dates=("prep_pre_pro_decision_date", "prep_agree_stepdown_issue_date"),
           codes=("prep_pre_pro_outcome",)),
)  # fmt: skip
BY_NAME: Mapping[str, SsdTable] = {t.name: t for t in TABLES}
# the columns that name a team (by its id): the reader gives the team's name from ssd_department
TEAM_COLUMNS = frozenset(c for t in TABLES for c in t.codes if c.endswith("_team"))


def _iso(value: Any, name: str, with_time: bool) -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            raise RecordError(f"{name} {value!r} is not a date") from None
    if isinstance(value, datetime):
        return (
            value.replace(microsecond=0, tzinfo=None).isoformat()
            if with_time
            else (value.date().isoformat())
        )
    if isinstance(value, date):
        return value.isoformat()
    raise RecordError(f"{name} {value!r} is not a date")


def row_fields(table: SsdTable, row: Mapping[str, Any], token: Any) -> dict[str, Any]:
    """The fields kept from ``row`` (``token(raw)`` makes an id pseudonymous)."""
    fields: dict[str, Any] = {}
    for column, kind in table.ids:
        value = row.get(column)
        fields[column] = None if value is None or not str(value).strip() else token(kind, value)
    for column in table.dates:
        fields[column] = _iso(row.get(column), column, with_time=False)
    for column in table.times:
        fields[column] = _iso(row.get(column), column, with_time=True)
    for column in table.flags:
        value = row.get(column)
        fields[column] = parse_yes_no(None if value is None else str(value), column)
    for column in table.codes:
        value = row.get(column)
        fields[column] = None if value is None or not str(value).strip() else str(value).strip()
    return fields
