"""The SSD connector against real PostgreSQL tables made from the SSD's own definitions, posting
to the real services in both modes: after a first poll casetime's figures are those of the same
history posted directly as events; between polls an update, an insert and a delete make exactly
a new revision, a new event and a void; a poll stopped part-way and run again loses nothing and
posts nothing twice; a poll with no change posts nothing."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from casetime.events import parse_event
from connectors.ledger import Ledger
from connectors.posting import post_events
from connectors.pseudonyms import Pseudonyms
from connectors.records import ImportReport
from connectors.ssd import SOURCE, derive
from connectors.ssd_source import SsdPoller, SsdReader
from connectors.sync import Connector
from kpi.adapters.council_file import load_council_config
from kpi.domain.calendar import england_calendar
from kpi.domain.casebook import RuleContext
from kpi.domain.evaluation import evaluate
from kpi.domain.recompute import casebook_from_events
from tests.conftest import create_database, drop_database
from tests.e2e.conftest import System, applied, wait_until_applied
from tests.support import credentials as authed
from tests.support.events import event_dict
from tests.support.samples import needs_samples
from tests.support.ssd import ssd_database

pytestmark = [pytest.mark.infra, pytest.mark.e2e, needs_samples]
TEAM = "North Assessment"
AS_AT = date(2025, 2, 28)
PSEUDONYMS = Pseudonyms("the test council's pseudonym secret")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text)


HISTORY: dict[str, list[dict[str, Any]]] = {
    "ssd_department": [{"dept_team_id": "T1", "dept_team_name": TEAM}],
    "ssd_pre_proceedings": [
        {
            "prep_table_id": "PP1",
            "prep_plo_family_id": "F1",
            "prep_person_id": "P2",
            "prep_pre_pro_decision_date": at("2024-09-02"),
            "prep_agree_stepdown_issue_date": at("2024-12-02"),
            "prep_pre_pro_outcome": "Decision to step down",
        }
    ],
    "ssd_person": [
        {"pers_person_id": "P1", "pers_dob": at("2015-06-01")},
        {"pers_person_id": "P2", "pers_dob": at("2012-03-01")},
    ],
    "ssd_contacts": [
        {
            "cont_contact_id": "K1",
            "cont_person_id": "P1",
            "cont_contact_date": at("2025-01-03 09:30"),
            "cont_contact_source_code": "1B",
        }
    ],
    "ssd_cin_episodes": [
        {
            "cine_referral_id": "R1",
            "cine_person_id": "P1",
            "cine_referral_team": "T1",
            "cine_referral_date": at("2025-01-06 10:00"),
            "cine_referral_source_code": "1A",
        },
    ],
    "ssd_cin_assessments": [
        {
            "cina_assessment_id": "A1",
            "cina_person_id": "P1",
            "cina_referral_id": "R1",
            "cina_assessment_start_date": at("2025-01-07"),
            "cina_assessment_auth_date": at("2025-02-03"),
            "cina_assessment_team": "T1",
        },
    ],
    "ssd_s47_enquiry": [
        {
            "s47e_s47_enquiry_id": "S1",
            "s47e_person_id": "P1",
            "s47e_referral_id": "R1",
            "s47e_s47_start_date": at("2025-01-08"),
            "s47e_s47_end_date": at("2025-01-20"),
            "s47e_s47_nfa": "N",
            "s47e_s47_completed_by_team": "T1",
        },
    ],
    "ssd_initial_cp_conference": [
        {
            "icpc_icpc_id": "I1",
            "icpc_person_id": "P1",
            "icpc_s47_enquiry_id": "S1",
            "icpc_icpc_date": at("2025-01-27"),
            "icpc_icpc_outcome_cp_flag": "Y",
            "icpc_icpc_team": "T1",
        },
    ],
    "ssd_cp_plans": [
        {
            "cppl_cp_plan_id": "C1",
            "cppl_person_id": "P1",
            "cppl_icpc_id": "I1",
            "cppl_cp_plan_start_date": at("2025-01-27"),
        },
    ],
    "ssd_cp_visits": [
        {
            "cppv_cp_visit_id": "V1",
            "cppv_person_id": "P1",
            "cppv_cp_plan_id": "C1",
            "cppv_cp_visit_date": at("2025-02-03"),
            "cppv_cp_visit_seen": "Y",
            "cppv_cp_visit_seen_alone": "N",
        },
    ],
    "ssd_cla_episodes": [
        {
            "clae_cla_episode_id": "E1",
            "clae_person_id": "P2",
            "clae_cla_id": "L1",
            "clae_cla_episode_start_date": at("2024-06-03"),
            "clae_cla_episode_start_reason": "S",
            "clae_cla_primary_need_code": "N1",
        },
    ],
    "ssd_legal_status": [
        {
            "lega_legal_status_id": "G1",
            "lega_person_id": "P2",
            "lega_legal_status": "C2",
            "lega_legal_status_start_date": at("2024-06-03"),
        },
    ],
    "ssd_cla_placement": [
        {
            "clap_cla_placement_id": "PL1",
            "clap_person_id": "P2",
            "clap_cla_id": "L1",
            "clap_cla_placement_start_date": at("2024-06-03"),
            "clap_cla_placement_type": "U1",
            "clap_cla_placement_end_date": at("2024-10-01"),
            "clap_cla_placement_change_reason": "CARPL",
        },
        {
            "clap_cla_placement_id": "PL2",
            "clap_person_id": "P2",
            "clap_cla_id": "L1",
            "clap_cla_placement_start_date": at("2024-10-01"),
            "clap_cla_placement_type": "U3",
        },
    ],
    "ssd_cla_reviews": [
        {
            "clar_cla_review_id": "LR1",
            "clar_cla_id": "L1",
            "clar_cla_review_date": at("2024-06-20"),
            "clar_cla_review_cancelled": "N",
        },
    ],
    "ssd_cla_visits": [
        {
            "clav_cla_visit_id": "LV1",
            "clav_person_id": "P2",
            "clav_cla_visit_date": at("2025-02-01"),
            "clav_cla_visit_seen": "Y",
            "clav_cla_visit_seen_alone": "Y",
        },
    ],
}


def from_ssd(event: dict[str, Any]) -> dict[str, Any]:
    return event | {"source_dataset": "ssd"}


def direct_history(today: str) -> list[dict[str, Any]]:
    """The same history posted by hand (its own ids), as taken from the SSD."""
    other = "Not recorded (SSD)"

    def e(
        kind: str, child: str, episode: str, when: str, payload: dict[str, Any], team: str = TEAM
    ) -> dict[str, Any]:
        return from_ssd(
            event_dict(
                kind,
                child_id=child,
                episode_id=episode,
                occurred_at=when,
                team=team,
                payload=payload,
            )
        )

    return [
        e("child_details_recorded", "D1", "child", "2015-06-01", {"birth_month": "2015-06"}, other),
        e("contact_received", "D1", "K", "2025-01-03T09:30:00", {"contact_source": "1B"}, other),
        e(
            "referral_received",
            "D1",
            "R",
            "2025-01-06T10:00:00",
            {"referral_source": "1A", "birth_month": "2015-06"},
        ),
        e("assessment_started", "D1", "A", "2025-01-07", {"referral_id": "R"}),
        e("assessment_completed", "D1", "A", "2025-02-03", {"referral_id": "R"}),
        e("section_47_started", "D1", "S", "2025-01-08", {"referral_id": "R"}),
        e("section_47_completed", "D1", "S", "2025-01-20", {"outcome": "icpc_required"}),
        e(
            "initial_cp_conference_held",
            "D1",
            "I",
            "2025-01-27",
            {"section_47_id": "S", "child_protection_plan": True},
        ),
        e("cp_plan_started", "D1", "C", "2025-01-27", {"initial_conference_id": "I"}, other),
        e(
            "visit_held",
            "D1",
            "V",
            "2025-02-03",
            {
                "purpose": "child_protection",
                "child_seen": True,
                "child_seen_alone": False,
                "serves_episode_id": "C",
            },
            other,
        ),
        e("child_details_recorded", "D2", "child", "2012-03-01", {"birth_month": "2012-03"}, other),
        e(
            "period_of_care_started",
            "D2",
            "POC",
            "2024-06-03",
            {"legal_status": "C2", "category_of_need": "N1", "birth_month": "2012-03"},
            other,
        ),
        e(
            "placement_started",
            "D2",
            "PL1",
            "2024-06-03",
            {"period_of_care_id": "POC", "placement_type": "U1"},
            other,
        ),
        e("placement_ended", "D2", "PL1", "2024-10-01", {"reason_place_change": "CARPL"}, other),
        e(
            "placement_started",
            "D2",
            "PL2",
            "2024-10-01",
            {"period_of_care_id": "POC", "placement_type": "U3"},
            other,
        ),
        e("plo_started", "D2", "PLO", "2024-09-02", {}, other),
        e("plo_concluded", "D2", "PLO", "2024-12-02", {"outcome": "stepped_down"}, other),
        e(
            "looked_after_review_held",
            "D2",
            "LR",
            "2024-06-20",
            {"period_of_care_id": "POC"},
            other,
        ),
        e(
            "visit_held",
            "D2",
            "LV",
            "2025-02-01",
            {
                "purpose": "looked_after",
                "child_seen": True,
                "child_seen_alone": True,
                "serves_episode_id": "PL2",
            },
            other,
        ),
    ]


def figures(events: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[int, int]]:
    config = load_council_config(None)
    evaluation = evaluate(
        casebook_from_events([parse_event(json.dumps(e)) for e in events]),
        RuleContext(AS_AT, england_calendar(), config.rule_settings()),
        config,
    )
    return {
        (f.kpi, f.period): (f.figure.numerator, f.figure.denominator)
        for f in evaluation.figures
        if f.team == "all"
    }


def live_figures(system: System) -> dict[tuple[str, str], tuple[int, int]]:
    authed.post(f"{system.kpi.url}/kpis/refresh", timeout=60).raise_for_status()
    past = authed.get(
        f"{system.kpi.url}/kpis",
        params={"as_at": AS_AT.isoformat(), "level": "council"},
        timeout=120,
    ).json()
    return {(v["kpi"], v["period"]): (v["numerator"], v["denominator"]) for v in past["values"]}


class Posting:
    """Posts to the system as the connector does, keeping what it posted; ``fail_after``
    batches, it fails (a connector stopped mid-poll)."""

    def __init__(self, system: System, fail_after: int | None = None) -> None:
        self.system, self.fail_after = system, fail_after
        self.bodies: list[dict[str, Any]] = []
        self.urls = {s: system.url(s) for s in ("referrals", "assessments", "placements")}

    async def __call__(self, bodies: list[dict[str, Any]]) -> None:
        if self.fail_after is not None and self.fail_after <= 0:
            raise ConnectionError("stopped mid-poll")
        await post_events(bodies, self.urls, source_key=self.system.credentials.source_key)
        self.bodies += bodies
        if self.fail_after is not None:
            self.fail_after -= 1


async def change(url: str, *statements: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        for statement in statements:
            await conn.execute(sa.text(statement))
    await engine.dispose()


def poll(system: System, ssd_url: str, ledger_url: str, posting: Posting) -> ImportReport:
    async def work() -> ImportReport:
        ledger = await Ledger(ledger_url).open()
        reader = SsdReader(ssd_url, batch_size=2)  # several batches a table
        connector = Connector(SOURCE, ledger, derive, "Not recorded (SSD)", posting)
        poller = SsdPoller(reader, ledger, PSEUDONYMS, connector)
        report = ImportReport(SOURCE)
        try:
            await poller.poll(report)
        finally:
            await reader.close()
            await ledger.close()
        return report

    before = applied(system)
    try:
        report = asyncio.run(work())
    finally:
        wait_until_applied(system, before + len(posting.bodies))
    return report


def test_the_ssd_connector_posts_what_changed_between_polls_and_loses_nothing_when_stopped(
    casetime_system: System, postgres_server: str
) -> None:
    system = casetime_system
    name, ssd = asyncio.run(ssd_database(postgres_server, HISTORY))
    ledger_name = asyncio.run(create_database(postgres_server))
    ledger = f"postgresql+asyncpg://{postgres_server}/{ledger_name}"
    try:
        first = Posting(system)
        report = poll(system, ssd, ledger, first)
        assert report.all_skipped() == []
        assert len(first.bodies) == len(direct_history("2026-01-01"))
        today = datetime.now(UTC).date().isoformat()
        live = live_figures(system)
        assert live == figures(direct_history(today))
        # what the SSD cannot feed shows no data: no strategy discussions, core groups or times
        for kpi in ("ICPC-15WD", "CORE-10WD", "RECORDING-LAG", "REF-DECISION", "CONTACT-72H"):
            assert {n for (k, _), n in live.items() if k == kpi} == {(0, 0)}, kpi
        assert max(n[1] for (k, _), n in live.items() if k == "ICPC-15WD-DFE") == 1
        assert max(n for (k, _), n in live.items() if k == "PLO-16W") == (1, 1)
        clocks = authed.get(f"{system.kpi.url}/open-clocks", timeout=60).json()["clocks"]
        assert clocks  # the plan's visits and review are due
        assert not {c["kpi"] for c in clocks} & {"CONTACT-72H", "REF-DECISION", "STRAT-48H"}

        # between polls: an assessment authorised later, a new referral, a visit deleted
        asyncio.run(
            change(
                ssd,
                "UPDATE ssd_cin_assessments SET cina_assessment_auth_date = '2025-02-27'"
                " WHERE cina_assessment_id = 'A1'",
                "INSERT INTO ssd_cin_episodes (cine_referral_id, cine_person_id,"
                " cine_referral_date, cine_referral_team)"
                " VALUES ('R2', 'P1', '2025-02-10 09:00', 'T1')",
                "DELETE FROM ssd_cp_visits WHERE cppv_cp_visit_id = 'V1'",
            )
        )
        second = Posting(system)
        poll(system, ssd, ledger, second)
        made = sorted((b["event_type"], b["revision"]) for b in second.bodies)
        assert made == [("assessment_completed", 2), ("event_voided", 1), ("referral_received", 1)]
        void = next(b for b in second.bodies if b["event_type"] == "event_voided")
        assert void["payload"]["voided_event_type"] == "visit_held"

        # stopped after its first batch, then run again: the rest arrives, nothing twice
        asyncio.run(
            change(
                ssd,
                "UPDATE ssd_cla_placement SET clap_cla_placement_type = 'U4'"
                " WHERE clap_cla_placement_id = 'PL2'",
                "INSERT INTO ssd_cp_visits (cppv_cp_visit_id, cppv_person_id, cppv_cp_plan_id,"
                " cppv_cp_visit_date, cppv_cp_visit_seen)"
                " VALUES ('V2', 'P1', 'C1', '2025-02-12', 'Y')",
            )
        )
        stopped = Posting(system, fail_after=0)
        with pytest.raises(ConnectionError):
            poll(system, ssd, ledger, stopped)
        resumed = Posting(system)
        poll(system, ssd, ledger, resumed)
        posted = [(b["event_id"], b["revision"]) for b in stopped.bodies + resumed.bodies]
        assert len(posted) == len(set(posted)) == 2
        quiet = Posting(system)
        poll(system, ssd, ledger, quiet)
        assert quiet.bodies == []
        assert live_figures(system) == figures(changed_history(today))
    finally:
        asyncio.run(drop_database(postgres_server, name))
        asyncio.run(drop_database(postgres_server, ledger_name))


def changed_history(today: str) -> list[dict[str, Any]]:
    events = [e for e in direct_history(today) if e["episode_id"] != "V"]
    for e in events:
        if e["event_type"] == "assessment_completed":
            e["occurred_at"] = "2025-02-27"
        if e["episode_id"] == "PL2":
            e["payload"]["placement_type"] = "U4"
    other = "Not recorded (SSD)"
    return [
        *events,
        from_ssd(
            event_dict(
                "referral_received",
                child_id="D1",
                episode_id="R2",
                occurred_at="2025-02-10T09:00:00",
                team=TEAM,
                payload={"birth_month": "2015-06"},
            )
        ),
        from_ssd(
            event_dict(
                "visit_held",
                child_id="D1",
                episode_id="V2",
                occurred_at="2025-02-12",
                team=other,
                payload={
                    "purpose": "child_protection",
                    "child_seen": True,
                    "serves_episode_id": "C",
                },
            )
        ),
    ]
