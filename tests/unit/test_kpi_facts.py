"""KPI facts (issue 12): the figures as sums of each unit's facts equal the whole-book
evaluation, cell for cell and list for list, and stay equal when each change is applied as
the difference between a unit's old and new facts."""

from __future__ import annotations

import json
import random
import statistics
from collections import Counter
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from casetime.events import EventEnvelope, SourceDataset, parse_event
from casetime_tools.synthetic import generate
from kpi.domain.calendar import england_calendar
from kpi.domain.casebook import CaseBook, RuleContext
from kpi.domain.council import CouncilConfig
from kpi.domain.evaluation import Evaluation, evaluate
from kpi.domain.facts import (
    Cells,
    UnitFacts,
    _median,
    add_cells,
    difference,
    evaluation_from_totals,
    facts_of_book,
    split_unit,
    unit_facts,
)
from kpi.domain.recompute import casebook_from_events
from tests.support.history import comparable, ev

CONFIG = CouncilConfig(
    council="Facts",
    population_0_to_17=30_000,
    services={"Children in need": ["North Assessment", "South Assessment"]},
)
POPULATION = 30_000


def from_facts(facts: list[UnitFacts], as_at: date) -> Evaluation:
    totals: Cells = {}
    for f in facts:
        add_cells(totals, f.cells)
    lists = (
        [b for f in facts for b in f.breaches],
        [c for f in facts for c in f.clocks],
        [i for f in facts for i in f.issues],
    )
    return evaluation_from_totals(totals, as_at, CONFIG, POPULATION, lists)


def synthetic_events(seed: int, children_per_year: int = 250) -> list[EventEnvelope]:
    raw = generate(
        seed=seed, start=date(2023, 4, 1), end=date(2025, 4, 1), children_per_year=children_per_year
    )
    return [parse_event(json.dumps(e)) for e in raw]


def test_the_sum_of_every_units_facts_is_the_whole_book_evaluation() -> None:
    book = casebook_from_events(synthetic_events(seed=12))
    members = 0
    for as_at in (date(2024, 6, 30), date(2024, 11, 15), date(2025, 3, 31)):
        ctx = RuleContext(as_at, england_calendar(), CONFIG.rule_settings())
        reference = evaluate(book, ctx, CONFIG)
        summed = from_facts([f for _, f in facts_of_book(book, ctx)], as_at)
        assert comparable(summed) == comparable(reference)
        members += sum(f.figure.denominator for f in reference.figures if f.team != "all")
    assert members > 1_000  # a realistic council, not an empty one


def test_facts_equal_the_whole_book_when_some_children_come_from_returns_or_the_ssd() -> None:
    rng = random.Random(7)
    datasets = [None, None, *SourceDataset]
    source: dict[str, SourceDataset | None] = {}
    events = []
    for e in synthetic_events(seed=5, children_per_year=150):
        dataset = source.setdefault(e.child_id, rng.choice(datasets))
        events.append(e.model_copy(update={"source_dataset": dataset}))
    book = casebook_from_events(events)
    assert len(book.datasets) == 3
    as_at = date(2025, 3, 31)
    ctx = RuleContext(as_at, england_calendar(), CONFIG.rule_settings())
    reference = evaluate(book, ctx, CONFIG)
    summed = from_facts([f for _, f in facts_of_book(book, ctx)], as_at)
    assert comparable(summed) == comparable(reference)
    whole = evaluate(
        casebook_from_events(synthetic_events(seed=5, children_per_year=150)), ctx, CONFIG
    )
    assert comparable(reference) != comparable(whole)  # the datasets did leave members out


def shared_application() -> list[EventEnvelope]:
    """Two siblings on one care proceedings application, concluded on different days by
    different teams, with a reason recorded against the application for the later child."""
    order, reason = {"final_order": "care_order"}, {"kpi": "PROC-26W", "reason": "court_listing"}
    return [
        ev("care_proceedings_issued", "S1", "APP-1", "2024-05-01", team="Court A"),
        ev("care_proceedings_issued", "S2", "APP-1", "2024-05-03", team="Court A"),
        ev("care_proceedings_concluded", "S1", "APP-1", "2024-10-01", order, team="Court A"),
        ev("care_proceedings_concluded", "S2", "APP-1", "2024-12-20", order, team="Court B"),
        ev("exception_reason_recorded", "S2", "APP-1", "2024-12-21", reason, team="Court B"),
        ev("care_proceedings_issued", "S3", "APP-2", "2024-11-01", team="Court A"),
    ]  # fmt: skip


def test_an_application_shared_by_two_children_is_one_unit() -> None:
    book = casebook_from_events(shared_application())
    for as_at in (date(2024, 11, 30), date(2025, 1, 31)):
        ctx = RuleContext(as_at, england_calendar(), CONFIG.rule_settings())
        units = dict(facts_of_book(book, ctx))
        assert set(units) == {"c:S1", "c:S2", "c:S3", "a:APP-1", "a:APP-2"}
        assert comparable(from_facts(list(units.values()), as_at)) == comparable(
            evaluate(book, ctx, CONFIG)
        )
    # the application's figure comes from its own unit, and only from it
    late = units["a:APP-1"].cells
    assert late[("f", "PROC-26W-APPLICATION", "financial_year_to_date", "Court B")] == (0, 1)
    assert not any(key[1] == "PROC-26W-APPLICATION" for key in units["c:S2"].cells)


def test_applying_each_change_as_a_difference_keeps_the_totals_exact() -> None:
    """The live path in miniature: events arrive one child at a time in a random order; after
    each, only that child's facts are derived again and the difference added to the totals."""
    events = synthetic_events(seed=5, children_per_year=80)
    random.Random(5).shuffle(events)
    as_at = date(2025, 3, 31)
    ctx = RuleContext(as_at, england_calendar(), CONFIG.rule_settings())
    totals: Cells = {}
    held: dict[str, UnitFacts] = {}
    seen: list[EventEnvelope] = []
    by_child: dict[str, list[EventEnvelope]] = {}
    by_episode: dict[str, list[EventEnvelope]] = {}
    for index, event in enumerate(events):
        seen.append(event)
        by_child.setdefault(event.child_id, []).append(event)
        by_episode.setdefault(event.episode_id, []).append(event)
        if index % 7 and index != len(events) - 1:
            continue  # a batch of events, then the children it touched
        batch = seen[-7:]
        books = {f"c:{e.child_id}": casebook_from_events(by_child[e.child_id]) for e in batch}
        for e in batch:
            # an application's proceedings and exceptions, whichever children they name
            applications = casebook_from_events(by_episode[e.episode_id]).applications()
            if e.episode_id in applications:
                books[f"a:{e.episode_id}"] = applications[e.episode_id]
        for unit, unit_book in books.items():
            new = unit_facts(split_unit(unit)[0], unit_book, ctx)
            add_cells(totals, difference(held.get(unit, UnitFacts()).cells, new.cells))
            held[unit] = new
    book = casebook_from_events(events)
    reference = evaluate(book, ctx, CONFIG)
    live = evaluation_from_totals(totals, as_at, CONFIG, POPULATION)
    assert sorted(live.figures, key=repr) == sorted(reference.figures, key=repr)
    assert live.clock_counts == reference.clock_counts
    assert live.breach_counts == reference.breach_counts


@given(st.dictionaries(st.integers(0, 400).map(float), st.integers(1, 5), min_size=1))
def test_the_median_of_counted_values_is_the_median_of_the_values(counts: dict[float, int]) -> None:
    values = [v for v, n in counts.items() for _ in range(n)]
    assert _median(Counter(counts)) == statistics.median(values)


def test_a_child_without_episodes_has_no_facts() -> None:
    ctx = RuleContext(date(2025, 3, 31), england_calendar(), CONFIG.rule_settings())
    assert unit_facts("c", CaseBook([]), ctx) == UnitFacts()
