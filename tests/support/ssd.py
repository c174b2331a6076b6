"""Standard Safeguarding Dataset tables in a real PostgreSQL database, made from the SSD's own
YAML definitions (../shared/samples/ssd/schema/), filled with a given history."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import create_async_engine

from connectors.ssd_schema import ssd_metadata
from tests.conftest import create_database
from tests.support.samples import SAMPLES

History = dict[str, list[dict[str, Any]]]


async def ssd_database(server: str, history: History) -> tuple[str, str]:
    """A new database on ``server`` holding the SSD tables and ``history``: (name, URL)."""
    name = await create_database(server)
    url = f"postgresql+asyncpg://{server}/{name}"
    engine = create_async_engine(url)
    async with engine.begin() as conn:
        metadata = ssd_metadata(SAMPLES / "ssd" / "schema")
        await conn.run_sync(metadata.create_all)
        for table, rows in history.items():
            for row in rows:  # each row names only the columns it has
                await conn.execute(metadata.tables[table].insert(), row)
    await engine.dispose()
    return name, url


def _day(d: date) -> datetime:
    return datetime(d.year, d.month, d.day)


def council(children: int, seed: int = 1) -> History:
    """A council's front door and child protection work in its SSD: every child referred and
    assessed in 2024, a third of them enquired into, conferenced and on a plan with visits."""
    rng = random.Random(seed)
    rows: History = {"ssd_department": [{"dept_team_id": "T1", "dept_team_name": "North"}]}
    add = rows.setdefault
    for n in range(children):
        person, referred = f"P{n:05}", date(2024, 1, 2) + timedelta(days=rng.randrange(330))
        add("ssd_person", []).append({"pers_person_id": person, "pers_dob": _day(date(2012, 1, 1))})
        add("ssd_cin_episodes", []).append(
            {
                "cine_referral_id": f"R{n:05}",
                "cine_person_id": person,
                "cine_referral_team": "T1",
                "cine_referral_date": _day(referred) + timedelta(hours=10),
                "cine_referral_source_code": "1A",
            }
        )
        add("ssd_cin_assessments", []).append(
            {
                "cina_assessment_id": f"A{n:05}",
                "cina_person_id": person,
                "cina_referral_id": f"R{n:05}",
                "cina_assessment_start_date": _day(referred + timedelta(days=1)),
                "cina_assessment_auth_date": _day(referred + timedelta(days=rng.randrange(20, 80))),
                "cina_assessment_team": "T1",
            }
        )
        if n % 3:
            continue
        started, held = (
            referred + timedelta(days=2),
            referred + timedelta(days=rng.randrange(9, 30)),
        )
        add("ssd_s47_enquiry", []).append(
            {
                "s47e_s47_enquiry_id": f"S{n:05}",
                "s47e_person_id": person,
                "s47e_referral_id": f"R{n:05}",
                "s47e_s47_start_date": _day(started),
                "s47e_s47_end_date": _day(held),
                "s47e_s47_nfa": "N",
                "s47e_s47_completed_by_team": "T1",
            }
        )
        add("ssd_initial_cp_conference", []).append(
            {
                "icpc_icpc_id": f"I{n:05}",
                "icpc_person_id": person,
                "icpc_s47_enquiry_id": f"S{n:05}",
                "icpc_icpc_date": _day(held),
                "icpc_icpc_outcome_cp_flag": "Y",
                "icpc_icpc_team": "T1",
            }
        )
        add("ssd_cp_plans", []).append(
            {
                "cppl_cp_plan_id": f"C{n:05}",
                "cppl_person_id": person,
                "cppl_icpc_id": f"I{n:05}",
                "cppl_cp_plan_start_date": _day(held),
            }
        )
        for v in range(3):
            add("ssd_cp_visits", []).append(
                {
                    "cppv_cp_visit_id": f"V{n:05}.{v}",
                    "cppv_person_id": person,
                    "cppv_cp_plan_id": f"C{n:05}",
                    "cppv_cp_visit_date": _day(held + timedelta(days=7 + 12 * v)),
                    "cppv_cp_visit_seen": "Y",
                    "cppv_cp_visit_seen_alone": "N",
                }
            )
    return rows
