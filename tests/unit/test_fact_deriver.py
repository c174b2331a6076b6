"""Facts derived in a worker process (issue 12: the rules' CPU off the consumer's interpreter)
are the facts derived in the service's own process, and a worker that dies costs one round,
not the keeper."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
from concurrent.futures.process import BrokenProcessPool
from datetime import date

import pytest

from kpi.adapters.derivation import IN_PROCESS_UNITS, FactDeriver, derive
from kpi.adapters.fact_store import EncodedFacts, UnitRows
from kpi.domain.calendar import england_calendar
from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.facts import facts_of_book, unit_of_application, unit_of_child
from kpi.domain.recompute import casebook_from_events
from tests.unit.test_kpi_facts import CONFIG, synthetic_events

AS_AT = date(2025, 3, 31)


def stored_rows(book: CaseBook) -> dict[str, UnitRows]:
    """Each unit's rows as the fact store reads them: episodes as (kind, JSON state)."""
    rows = {}
    for child in sorted(book.children()):
        own = book.for_child(child)
        episodes = tuple((e.kind, e.model_dump_json()) for e in own.episodes())
        rows[unit_of_child(child)] = UnitRows(unit_of_child(child), episodes, own.recordings)
    for application, own in book.applications().items():
        unit = unit_of_application(application)
        rows[unit] = UnitRows(unit, tuple((e.kind, e.model_dump_json()) for e in own.episodes()))
    return rows


@pytest.fixture(scope="module")
def book() -> CaseBook:
    return casebook_from_events(synthetic_events(seed=3, children_per_year=120))


def test_facts_from_stored_rows_are_the_facts_of_the_book(book: CaseBook) -> None:
    ctx = RuleContext(AS_AT, england_calendar(), CONFIG.rule_settings())
    expected = {unit: EncodedFacts.of(facts) for unit, facts in facts_of_book(book, ctx)}
    assert derive(stored_rows(book), ctx) == expected
    assert sum(bool(f.items) for f in expected.values()) > 10


def test_a_worker_process_derives_what_the_service_would(book: CaseBook) -> None:
    rows = stored_rows(book)
    assert len(rows) >= IN_PROCESS_UNITS  # large enough to go to the worker
    ctx = RuleContext(AS_AT, england_calendar(), CONFIG.rule_settings())
    deriver = FactDeriver(england_calendar(), CONFIG.rule_settings(), workers=1)
    try:
        from_worker = asyncio.run(deriver.derive(rows, AS_AT))
        assert multiprocessing.active_children()  # it did run in another process
    finally:
        deriver.close()
    assert from_worker == derive(rows, ctx)


def test_a_killed_worker_fails_its_round_and_the_next_round_gets_a_new_one(
    book: CaseBook,
) -> None:
    rows = stored_rows(book)
    deriver = FactDeriver(england_calendar(), CONFIG.rule_settings(), workers=1)

    async def killed_mid_round() -> None:
        await deriver.derive(rows, AS_AT)  # the worker is up
        (worker,) = multiprocessing.active_children()
        round_ = asyncio.ensure_future(deriver.derive(rows, date(2024, 3, 31)))
        await asyncio.sleep(0)  # the round is handed to the worker
        os.kill(worker.pid or 0, signal.SIGKILL)
        with pytest.raises(BrokenProcessPool):
            await round_

    try:
        asyncio.run(killed_mid_round())
        again = asyncio.run(deriver.derive(rows, AS_AT))
    finally:
        deriver.close()
    ctx = RuleContext(AS_AT, england_calendar(), CONFIG.rule_settings())
    assert again == derive(rows, ctx)
