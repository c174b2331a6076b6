"""The PostgreSQL case store, against the real server: dedupe, amendments, voids, transactions."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text

from casetime.events import EventEnvelope
from kpi.adapters.store import CaseStore
from kpi.domain.calendar import england_calendar
from kpi.domain.casebook import RuleContext
from kpi.domain.council import CouncilConfig
from kpi.domain.evaluation import evaluate
from kpi.domain.periods import PeriodKind
from kpi.migrations import upgrade_to_head
from kpi.service import Recorded, apply_event
from tests.support.events import event

pytestmark = pytest.mark.infra

AS_AT = date(2025, 2, 14)


async def apply_all(store: CaseStore, events: list[EventEnvelope]) -> list[Recorded]:
    async with store.transaction() as repo:
        return [await apply_event(repo, e) for e in events]


async def asmt_45wd(store: CaseStore, period: PeriodKind = PeriodKind.MONTH) -> tuple[int, int]:
    book = await store.load_casebook()
    config = CouncilConfig(council="Test")
    evaluation = evaluate(book, RuleContext(AS_AT, england_calendar()), config)
    found = evaluation.figure("ASMT-45WD", period.value)
    return found.numerator, found.denominator


def referral(child: str, on: date, **kw: Any) -> EventEnvelope:
    return event(
        "referral_received",
        child_id=child,
        episode_id=f"REF-{child}",
        occurred_at=on,
        payload={"referral_source": "1A"},
        **kw,
    )


def assessment_completed(child: str, on: date, **kw: Any) -> EventEnvelope:
    return event(
        "assessment_completed",
        child_id=child,
        episode_id=f"ASMT-{child}",
        occurred_at=on,
        payload={"referral_id": f"REF-{child}"},
        **kw,
    )


async def test_migrations_create_the_tables_and_a_second_upgrade_is_a_no_op(
    store: CaseStore, database_url: str
) -> None:
    await asyncio.to_thread(upgrade_to_head, database_url)
    async with store.engine.connect() as conn:
        tables = set(
            (
                await conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                )
            ).scalars()
        )
    assert {"case_event", "event_void", "episode", "dead_letter", "alembic_version"} <= tables


async def test_the_same_event_applied_twice_counts_once(store: CaseStore) -> None:
    # referral Mon 3 Feb 2025, authorised Fri 14 Feb: 9 working days, in time
    history = [referral("C1", date(2025, 2, 3)), assessment_completed("C1", date(2025, 2, 14))]
    assert await apply_all(store, history) == [Recorded.NEW, Recorded.NEW]
    assert await apply_all(store, history) == [Recorded.DUPLICATE, Recorded.DUPLICATE]
    assert await asmt_45wd(store) == (1, 1)


async def test_an_assessment_arriving_before_its_referral_is_timed_once_the_referral_lands(
    store: CaseStore,
) -> None:
    await apply_all(store, [assessment_completed("C2", date(2025, 2, 14))])
    assert await asmt_45wd(store) == (0, 1)  # counted, not met, until its referral lands
    # referral Mon 2 Dec 2024 -> Fri 14 Feb 2025: 51 working days (25, 26 Dec and 1 Jan
    # are bank holidays), late
    await apply_all(store, [referral("C2", date(2024, 12, 2))])
    assert await asmt_45wd(store) == (0, 1)


async def test_an_amended_referral_date_moves_the_assessment_into_time(store: CaseStore) -> None:
    first = referral("C3", date(2024, 12, 2), event_id="ref-c3")
    await apply_all(store, [first, assessment_completed("C3", date(2025, 2, 14))])
    assert await asmt_45wd(store) == (0, 1)
    amended = referral("C3", date(2025, 1, 6), event_id="ref-c3", revision=2)
    # 6 Jan -> 14 Feb 2025: 29 working days, in time
    assert await apply_all(store, [amended]) == [Recorded.REPLACED]
    assert await asmt_45wd(store) == (1, 1)
    # the old revision arriving late changes nothing
    assert await apply_all(store, [first]) == [Recorded.STALE]
    assert await asmt_45wd(store) == (1, 1)


async def test_a_voided_assessment_leaves_the_figures(store: CaseStore) -> None:
    completed = assessment_completed("C4", date(2025, 2, 10), event_id="asmt-c4")
    await apply_all(store, [referral("C4", date(2025, 2, 3)), completed])
    assert await asmt_45wd(store) == (1, 1)
    void = event(
        "event_voided",
        child_id="C4",
        episode_id="ASMT-C4",
        occurred_at=date(2025, 2, 12),
        payload={"voided_event_id": "asmt-c4", "voided_event_type": "assessment_completed"},
    )
    await apply_all(store, [void])
    assert await asmt_45wd(store) == (0, 0)


async def test_a_void_that_arrives_before_its_event_still_voids_it(store: CaseStore) -> None:
    void = event(
        "event_voided",
        child_id="C5",
        episode_id="ASMT-C5",
        occurred_at=date(2025, 2, 12),
        payload={"voided_event_id": "asmt-c5", "voided_event_type": "assessment_completed"},
    )
    await apply_all(store, [referral("C5", date(2025, 2, 3)), void])
    await apply_all(store, [assessment_completed("C5", date(2025, 2, 10), event_id="asmt-c5")])
    assert await asmt_45wd(store) == (0, 0)


async def test_a_failed_transaction_records_neither_the_event_id_nor_the_state(
    store: CaseStore,
) -> None:
    history = [referral("C6", date(2025, 2, 3)), assessment_completed("C6", date(2025, 2, 14))]

    async def crash_before_commit() -> None:
        async with store.transaction() as repo:
            for e in history:
                await apply_event(repo, e)
            raise RuntimeError("crash before commit")

    with pytest.raises(RuntimeError):
        await crash_before_commit()
    assert await asmt_45wd(store) == (0, 0)
    # so a redelivery after the crash is applied in full, not mistaken for a duplicate
    assert await apply_all(store, history) == [Recorded.NEW, Recorded.NEW]
    assert await asmt_45wd(store) == (1, 1)


async def test_episodes_closed_after_the_as_at_date_are_not_counted(store: CaseStore) -> None:
    await apply_all(
        store,
        [referral("C7", date(2025, 2, 3)), assessment_completed("C7", date(2025, 2, 17))],
    )
    assert await asmt_45wd(store) == (0, 0)


async def test_voiding_a_void_restores_the_event(store: CaseStore) -> None:
    completed = assessment_completed("C8", date(2025, 2, 10), event_id="asmt-c8")
    void = event(
        "event_voided",
        child_id="C8",
        episode_id="ASMT-C8",
        occurred_at=date(2025, 2, 11),
        event_id="void-c8",
        payload={"voided_event_id": "asmt-c8", "voided_event_type": "assessment_completed"},
    )
    await apply_all(store, [referral("C8", date(2025, 2, 3)), completed, void])
    assert await asmt_45wd(store) == (0, 0)
    void_of_void = event(
        "event_voided",
        child_id="C8",
        episode_id="ASMT-C8",
        occurred_at=date(2025, 2, 12),
        payload={"voided_event_id": "void-c8", "voided_event_type": "assessment_completed"},
    )
    await apply_all(store, [void_of_void])
    assert await asmt_45wd(store) == (1, 1)
