"""The facts keeper leaves a kept date alone when every change to a unit happened after it
(issue 12: a live event does not re-derive last month's figures). That is sound only if every
rule and data-quality check, as at a date, depends on nothing that happened after it: each
unit's facts from the whole history equal its facts from the events up to that date."""

from __future__ import annotations

import random
from datetime import date

import pytest

from casetime.events import EventEnvelope, SourceDataset
from kpi.domain.calendar import england_calendar
from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.facts import UnitFacts, facts_of_book
from kpi.domain.recompute import (
    casebook_from_events,
    episodes_from_events,
    live_events,
    recording_counts,
)
from kpi.service import since
from tests.unit.test_kpi_facts import CONFIG, synthetic_events

DATES = (date(2023, 9, 30), date(2024, 3, 31), date(2024, 6, 30), date(2024, 11, 15))


def as_compared(facts: UnitFacts | None) -> tuple[object, ...]:
    if facts is None:
        return ({}, [], [], [])
    return (
        facts.cells,
        sorted(map(repr, facts.breaches)),
        sorted(map(repr, facts.clocks)),
        sorted(map(repr, facts.issues)),
    )


def book_up_to(live: list[EventEnvelope], as_at: date) -> CaseBook:
    kept = [e for e in live if since(e) <= as_at]
    return CaseBook(episodes_from_events(kept), recording_counts(kept))


@pytest.mark.parametrize("seed", [12, 31])
def test_every_units_facts_as_at_a_date_ignore_what_happened_after_it(seed: int) -> None:
    events = synthetic_events(seed=seed)
    rng = random.Random(seed)
    # some children from the returns or the SSD: their episodes' datasets matter to the rules
    datasets = {e.child_id: rng.choice([None, None, None, *SourceDataset]) for e in events}
    events = [e.model_copy(update={"source_dataset": datasets[e.child_id]}) for e in events]
    live = live_events(events)
    whole = casebook_from_events(events)
    later = 0
    for as_at in DATES:
        ctx = RuleContext(as_at, england_calendar(), CONFIG.rule_settings())
        from_whole = dict(facts_of_book(whole, ctx))
        from_past = dict(facts_of_book(book_up_to(live, as_at), ctx))
        for unit in sorted(set(from_whole) | set(from_past)):
            assert as_compared(from_whole.get(unit)) == as_compared(from_past.get(unit)), (
                unit,
                as_at,
            )
        later += sum(since(e) > as_at for e in live)
        # the dates leave plenty after them, and plenty of facts before
        assert sum(bool(f.cells) for f in from_whole.values()) > 100
    assert later > 10_000
