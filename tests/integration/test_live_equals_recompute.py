"""Property: random case histories, delivered shuffled, with duplicates, amendments and voids,
give the live store exactly the figures a recomputation from scratch gives over the same events.

The live path is the one the Kafka consumer runs (apply_event on the real PostgreSQL, one
transaction per batch); the reference is kpi.domain.recompute, pure and in memory.
"""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from casetime.events import EventEnvelope, parse_event
from kpi.adapters.snapshots import SnapshotRefresher, kept_dates
from kpi.adapters.store import CaseStore
from kpi.domain.calendar import england_calendar
from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.council import CouncilConfig
from kpi.domain.evaluation import Evaluation, evaluate
from kpi.domain.recompute import casebook_from_events
from kpi.migrations import upgrade_to_head
from kpi.service import record_events, refold, units_touched
from tests.support.events import event_dict
from tests.support.history import comparable

pytestmark = pytest.mark.infra

AS_AT = date(2025, 3, 31)
AS_AT_DATES = (date(2024, 6, 30), date(2024, 11, 15), AS_AT)
START = date(2023, 10, 2)
TEAMS = ("North Assessment", "South Assessment", "Court Team")
CONFIG = CouncilConfig(council="Property", population_0_to_17=10_000)


def day(offset: int) -> str:
    return (START + timedelta(days=offset)).isoformat()


@st.composite
def child_history(draw: st.DrawFn, child: str) -> list[dict[str, Any]]:
    """One child's events across the catalogue, on random days, linked by episode ids; each
    event names its own team, so an episode moves between teams over time."""
    t0 = draw(st.integers(0, 400))
    gap = st.integers(0, 120)
    ref, strat, s47 = f"REF-{child}", f"SD-{child}", f"S47-{child}"
    icpc, plan, asmt = f"ICPC-{child}", f"CPP-{child}", f"ASMT-{child}"
    poc, placement, proc = f"POC-{child}", f"PL-{child}", f"PROC-{child}"
    t1, t2, t3 = t0 + draw(gap), t0 + draw(gap), t0 + draw(gap)
    born = draw(st.sampled_from(["2012-05", "2022-01"]))  # over and under 5
    events: list[tuple[str, str, str, dict[str, Any]]] = [
        ("contact_received", f"CON-{child}", day(t0), {}),
        ("contact_decision", f"CON-{child}", day(t0 + draw(st.integers(0, 5))),
         {"outcome": "progressed_to_referral", "referral_id": ref}),
        ("referral_received", ref, day(t0), {"referral_source": "1A"}),
        ("referral_decision", ref, day(t0 + draw(st.integers(0, 3))),
         {"no_further_action": False, "next_steps": "strategy_discussion"}),
        ("child_details_recorded", f"DET-{child}", day(t0 + 2), {"birth_month": born}),
        ("cp_plan_ended", plan, day(t0 + draw(st.integers(60, 400))), {}),
        ("period_of_care_ended", poc, day(t2 + draw(st.integers(30, 200))),
         {"reason_episode_ceased": "E13"}),
        ("period_of_care_started", f"POC2-{child}", day(t2 + draw(st.integers(210, 300))),
         {"legal_status": "V2", "category_of_need": "N1"}),
        ("review_cp_conference_held", f"RCPC-{child}", day(t0 + draw(st.integers(80, 120))),
         {"child_protection_plan_id": plan}),
        ("assessment_started", asmt, day(t0 + 1), {"referral_id": ref}),
        ("assessment_completed", asmt, day(t1 + 1), {"referral_id": ref}),
        ("strategy_discussion_held", strat, day(t0 + 1),
         {"referral_id": ref, "agencies_attended": draw(st.sampled_from(
             [["police", "health", "education"], ["police"]])), "initiated_section_47": True}),
        ("section_47_started", s47, day(t0 + 1),
         {"referral_id": ref, "strategy_discussion_id": strat}),
        ("initial_cp_conference_held", icpc, day(t0 + draw(st.integers(5, 40))),
         {"section_47_id": s47, "strategy_discussion_id": strat, "child_protection_plan": True}),
        ("cp_plan_started", plan, day(t0 + 20), {"initial_conference_id": icpc}),
        ("core_group_held", f"CG-{child}", day(t0 + draw(st.integers(20, 40))),
         {"child_protection_plan_id": plan}),
        ("visit_held", f"V1-{child}", day(t2), {"purpose": "child_protection", "child_seen": True,
                                               "child_seen_alone": False}),
        ("period_of_care_started", poc, day(t2),
         {"legal_status": "C2", "category_of_need": "N1", "birth_month": born}),
        ("placement_started", placement, day(t2),
         {"period_of_care_id": poc, "placement_type": "U4"}),
        ("visit_held", f"V2-{child}", day(t2 + 5), {"purpose": "looked_after", "child_seen": True,
                                                   "child_seen_alone": True}),
        ("looked_after_review_held", f"LAR-{child}", day(t2 + 25), {"period_of_care_id": poc}),
        ("care_proceedings_issued", proc, day(t3), {}),
        ("care_proceedings_concluded", proc, day(t3 + draw(st.integers(150, 220))),
         {"final_order": "care_order"}),
        ("exception_reason_recorded", proc, day(t3 + 230),
         {"kpi": "PROC-26W", "reason": "court_listing"}),
        ("case_allocated", ref, day(t0), {}),
    ]  # fmt: skip
    chosen = draw(st.lists(st.sampled_from(range(len(events))), unique=True, min_size=3))
    return [
        event_dict(kind, child_id=child, episode_id=episode, occurred_at=when,
                   team=draw(st.sampled_from(TEAMS)), payload=payload, event_id=f"{child}-{i}")
        for i, (kind, episode, when, payload) in enumerate(events) if i in chosen
    ]  # fmt: skip


@st.composite
def deliveries(draw: st.DrawFn) -> list[dict[str, Any]]:
    children = draw(st.integers(1, 4))
    history = [e for c in range(children) for e in draw(child_history(f"C{c}"))]
    delivered: list[dict[str, Any]] = []
    for original in history:
        delivered.append(original)
        change = draw(st.sampled_from(["none", "duplicate", "amend", "void"]))
        if change == "duplicate":
            delivered.append(dict(original))
        elif change == "amend":
            shift = draw(st.integers(-10, 10))
            moved = date.fromisoformat(original["occurred_at"]) + timedelta(days=shift)
            delivered.append(dict(original, revision=2, occurred_at=moved.isoformat()))
        elif change == "void":
            delivered.append(
                event_dict(
                    "event_voided",
                    child_id=original["child_id"],
                    episode_id=original["episode_id"],
                    occurred_at=original["occurred_at"],
                    event_id=f"void-{original['event_id']}",
                    payload={"voided_event_id": original["event_id"]},
                )
            )
    return draw(st.permutations(delivered))


def parsed(events: list[dict[str, Any]]) -> list[EventEnvelope]:
    return [parse_event(json.dumps(e)) for e in events]


async def live_state(
    database_url: str, events: list[EventEnvelope]
) -> tuple[CaseBook, dict[date, Evaluation]]:
    """The live case book, and the live facts' evaluation at every kept date: events applied
    in batches as the consumer applies them, with the facts keeper working between batches
    (so that units are derived again on top of their earlier facts, and a date is left alone
    when a change to a unit happened after it)."""
    store = CaseStore(database_url)
    keeper = SnapshotRefresher(store, CONFIG, england_calendar(), 60, fixed_as_at=AS_AT)
    try:
        async with store.engine.begin() as conn:
            await conn.execute(
                text(
                    "TRUNCATE case_event, event_void, episode, dead_letter, fact_generation,"
                    " fact_unit, fact_total, fact_item, dirty_unit"
                )
            )
        # batches of 7, recorded and folded as the consumer does
        for start in range(0, len(events), 7):
            async with store.transaction() as repo:
                chunk = [(event, None) for event in events[start : start + 7]]
                _, touched = await record_events(repo, chunk)
                await refold(repo, touched)
                await repo.facts.mark_dirty(units_touched(touched))
            if start == 0:
                # every kept date built now, so that the rest reaches each date as changes
                await keeper.refresh()
            else:
                await keeper.step()
        await keeper.refresh()
        book = await store.load_casebook()
        kept = {as_at: await keeper.kept(as_at, lists=True) for as_at in kept_dates(AS_AT)}
    finally:
        await store.dispose()
    return book, {as_at: evaluation for as_at, evaluation in kept.items() if evaluation}


@pytest.fixture(scope="module")
def migrated_database(postgres_server: str) -> Any:
    from tests.conftest import create_database, drop_database

    name = asyncio.run(create_database(postgres_server))
    url = f"postgresql+asyncpg://{postgres_server}/{name}"
    upgrade_to_head(url)
    yield url
    asyncio.run(drop_database(postgres_server, name))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(delivered=deliveries())
def test_live_store_equals_recomputation_from_scratch(
    migrated_database: str, delivered: list[dict[str, Any]]
) -> None:
    events = parsed(delivered)
    live_book, live_facts = asyncio.run(live_state(migrated_database, events))
    reference_book = casebook_from_events(events)
    # the live facts at every kept date: the live date and those it is compared with
    assert set(live_facts) == kept_dates(AS_AT)
    for as_at, from_facts in live_facts.items():
        ctx = RuleContext(as_at, england_calendar(), CONFIG.rule_settings())
        assert comparable(from_facts) == comparable(evaluate(reference_book, ctx, CONFIG))
    cohorts = 0
    # every team's cells, at several as-at dates: the team attribution depends on the date
    for as_at in AS_AT_DATES:
        ctx = RuleContext(as_at, england_calendar())
        live, reference = evaluate(live_book, ctx, CONFIG), evaluate(reference_book, ctx, CONFIG)
        assert comparable(live) == comparable(reference)
        cohorts += sum(1 for f in reference.figures if f.figure.denominator and f.team != "all")
    # the history is not trivially empty: some team's figure has a cohort
    assert cohorts


def test_an_exception_reason_recorded_after_the_proceedings_moves_the_application_breach(
    migrated_database: str,
) -> None:
    """Found by the property test: the reason is recorded against the application's episode,
    so the application's facts must be derived again when it arrives on its own."""
    from tests.support import history as h

    # seven events (one batch, then the keeper runs), then the exception reason on its own
    first = [
        *h.proceedings("C1", "PROC-C1", "2024-07-04", "2025-02-15"),
        *(h.referral(f"C{n}", f"REF-C{n}", "2025-01-06") for n in range(2, 7)),
    ]
    late = [h.exception_reason("C1", "PROC-C1", "2025-02-19", "PROC-26W", "court_listing")]
    events = first + late
    _, live = asyncio.run(live_state(migrated_database, events))
    reference = evaluate(casebook_from_events(events), _context(AS_AT), CONFIG)
    reasons = {b.reason for b in live[AS_AT].breaches if b.kpi == "PROC-26W-APPLICATION"}
    assert reasons == {"court_listing"}
    assert comparable(live[AS_AT]) == comparable(reference)


def _context(as_at: date) -> RuleContext:
    return RuleContext(as_at, england_calendar(), CONFIG.rule_settings())
