"""The synthetic council (casetime_tools.synthetic): deterministic, valid, streamed, realistic
enough that every KPI has a cohort, and posted to the right ingest service. No network: the
poster is tested against httpx's in-process MockTransport."""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from casetime.events import EVENT_TYPES, as_start_instant, parse_event
from casetime.topics import SERVICE_EVENT_TYPES, SHARED_EVENT_TYPES, accepted_types, owner_of
from casetime_tools.synthetic import (
    DEFAULT_TEAMS,
    SIZES,
    children_per_year_for,
    generate,
    read_jsonl,
    write_jsonl,
)
from connectors.posting import PostError, post_events, route_event
from kpi.adapters.council_file import load_council_config
from kpi.domain.calendar import england_calendar
from kpi.domain.casebook import RuleContext
from kpi.domain.evaluation import Evaluation, evaluate
from kpi.domain.kpis import CATALOGUE
from kpi.domain.kpis.base import COUNCIL, Measure
from kpi.domain.recompute import casebook_from_events

START, END = date(2024, 4, 1), date(2025, 4, 1)
AS_AT = date(2025, 3, 31)
SMALL = 300
URLS = {s: f"http://{s}.test" for s in SERVICE_EVENT_TYPES}

Event = dict[str, Any]


def small_year(seed: int = 1, children_per_year: int = SMALL) -> list[Event]:
    return list(generate(seed=seed, start=START, end=END, children_per_year=children_per_year))


def in_window(events: list[Event]) -> list[Event]:
    return [e for e in events if e["occurred_at"][:10] >= START.isoformat()]


@pytest.fixture(scope="module")
def small() -> list[Event]:
    return small_year()


@pytest.fixture(scope="module")
def mid_sized() -> list[Event]:
    return list(generate(seed=2025, start=START, end=END, children_per_year=SIZES["mid-sized"]))


@pytest.fixture(scope="module")
def mid_sized_evaluation(mid_sized: list[Event]) -> Evaluation:
    book = casebook_from_events(parse_event(json.dumps(e)) for e in mid_sized)
    config = load_council_config(None)
    ctx = RuleContext(AS_AT, england_calendar(), config.rule_settings())
    return evaluate(book, ctx, config)


# --- determinism, validity, order, streaming ------------------------------------------------


def test_the_same_seed_gives_the_same_events_and_another_seed_others(
    small: list[Event],
) -> None:
    assert small_year(seed=1) == small
    assert small_year(seed=2) != small


def test_every_event_is_valid_on_the_wire(small: list[Event]) -> None:
    assert small
    for raw in small:
        event = parse_event(json.dumps(raw))
        assert event.schema_version == 1
        assert event.recorded_at.tzinfo is not None
        if isinstance(event.occurred_at, datetime):
            assert event.occurred_at.tzinfo is not None
        assert re.fullmatch(r"C-\d{6}", event.child_id)
        assert event.source_system == "synthetic"


def test_events_come_in_event_time_order(small: list[Event]) -> None:
    instants = [as_start_instant(parse_event(json.dumps(e)).occurred_at) for e in small]
    assert instants == sorted(instants)


def test_nothing_is_sent_from_the_end_date_on_and_the_backload_comes_first(
    small: list[Event],
) -> None:
    days = [e["occurred_at"][:10] for e in small]
    assert max(days) < END.isoformat()
    # children known when the window opens come with their history
    assert min(days) < START.isoformat()
    assert len(in_window(small)) > 0.4 * len(small)


def test_generate_streams() -> None:
    events = generate(seed=1, start=START, end=END, children_per_year=SMALL)
    assert isinstance(events, Iterator)
    assert next(events)["event_type"] == "contact_received"


def test_no_names_only_pseudonymous_ids(small: list[Event]) -> None:
    for e in small[:2000]:
        assert set(e) <= {
            "event_id", "revision", "event_type", "schema_version", "occurred_at",
            "recorded_at", "source_system", "child_id", "episode_id", "team", "worker_id",
            "payload",
        }  # fmt: skip
        assert re.fullmatch(r"[A-Z0-9]+-\d{6}-\d+(-D)?", e["episode_id"]), e["episode_id"]
        if "worker_id" in e:
            assert re.fullmatch(r"W-\d{6}", e["worker_id"])


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="end must be after start"):
        generate(seed=1, start=END, end=START, children_per_year=10)
    with pytest.raises(ValueError, match="unknown size"):
        children_per_year_for("county")


# --- volumes and sizes ----------------------------------------------------------------------


def test_volumes_scale_with_children_per_year(small: list[Event]) -> None:
    triple = small_year(children_per_year=3 * SMALL)
    ratio = len(in_window(triple)) / len(in_window(small))
    assert 2.4 < ratio < 3.6
    referrals = Counter(e["event_type"] for e in in_window(triple))["referral_received"]
    assert 0.7 * 3 * SMALL < referrals < 1.2 * 3 * SMALL


def test_named_sizes_span_a_team_to_the_country(small: list[Event]) -> None:
    assert children_per_year_for("mid-sized") == SIZES["mid-sized"]
    per_child = len(in_window(small)) / SMALL
    # a mid-sized council: 2,500 to 4,000 referrals a year (catalogue section 8)
    assert 2_500 < 0.93 * SIZES["mid-sized"] < 4_000
    # the whole country: on the order of ten million events a year
    assert 5e6 < per_child * SIZES["national"] < 2e7
    assert SIZES["small-team"] < SIZES["mid-sized"] < SIZES["large"] < SIZES["national"]


def test_the_default_teams_are_the_example_councils(small: list[Event]) -> None:
    services = load_council_config(None).services
    assert {s: list(t) for s, t in DEFAULT_TEAMS.items()} == services
    known = {team for teams in services.values() for team in teams}
    assert {e["team"] for e in small} == known


def test_teams_can_be_another_councils() -> None:
    teams = {"Front door": ["Hub"], "Social work": ["Area 1", "Area 2"]}
    events = generate(seed=3, start=START, end=END, children_per_year=100, teams=teams)
    assert {e["team"] for e in events} <= {"Hub", "Area 1", "Area 2"}


# --- a mid-sized year -----------------------------------------------------------------------


def test_a_mid_sized_year_has_every_event_type(mid_sized: list[Event]) -> None:
    seen = Counter(e["event_type"] for e in in_window(mid_sized))
    assert set(seen) == set(EVENT_TYPES)
    assert 2_500 < seen["referral_received"] < 4_000


def test_a_mid_sized_year_has_corrections_and_late_records(mid_sized: list[Event]) -> None:
    amended = [e for e in mid_sized if e["revision"] == 2]
    assert amended
    first = {e["event_id"]: e for e in mid_sized if e["revision"] == 1}
    assert all(e["event_id"] in first for e in amended)
    voids = [e for e in mid_sized if e["event_type"] == "event_voided"]
    assert voids
    assert all(v["payload"]["voided_event_id"] in first for v in voids)

    def lag_days(e: Event) -> float:
        occurred = as_start_instant(parse_event(json.dumps(e)).occurred_at)
        return (datetime.fromisoformat(e["recorded_at"]) - occurred).total_seconds() / 86400

    late = sum(1 for e in mid_sized[::10] if lag_days(e) > 2.5)
    assert 0.02 < late / len(mid_sized[::10]) < 0.12
    assert all(lag_days(e) >= 0 for e in mid_sized[::10])


def test_every_ratio_kpi_has_a_council_cohort_in_a_mid_sized_year(
    mid_sized_evaluation: Evaluation,
) -> None:
    empty = []
    for kpi in CATALOGUE:
        period = "as_at" if kpi.point_in_time else "rolling_12_months"
        if (
            kpi.measure is Measure.RATIO
            and not mid_sized_evaluation.figure(kpi.id, period, COUNCIL).denominator
        ):
            empty.append(kpi.id)
    assert empty == []


@pytest.mark.parametrize(
    ("kpi", "low", "high"),
    [
        ("CONTACT-72H", 0.8, 0.99),
        ("REF-DECISION", 0.75, 0.98),
        ("STRAT-48H", 0.7, 0.97),
        ("ASMT-45WD", 0.6, 0.98),
        ("ASMT-45WD-DFE", 0.7, 0.98),
        ("ICPC-15WD", 0.65, 0.95),
        ("REREFERRAL-12M", 0.12, 0.32),
        ("CLA-VISITS", 0.8, 1.0),
        ("PROC-26W", 0.2, 0.8),
        ("PLO-16W", 0.3, 0.9),
        ("RECORDING-LAG", 0.85, 0.99),
    ],
)
def test_rates_are_plausible(
    mid_sized_evaluation: Evaluation, kpi: str, low: float, high: float
) -> None:
    period = "as_at" if kpi == "CLA-VISITS" else "rolling_12_months"
    ratio = mid_sized_evaluation.figure(kpi, period).ratio
    assert ratio is not None
    assert low <= ratio <= high, f"{kpi} {ratio:.3f}"


def test_medians_and_changes_look_like_englands(mid_sized_evaluation: Evaluation) -> None:
    median = mid_sized_evaluation.figure("ASMT-MEDIAN", "rolling_12_months").value
    assert median is not None
    assert 20 <= median <= 40  # England: 33 working days
    weeks = mid_sized_evaluation.figure("PROC-WEEKS", "rolling_12_months").value
    assert weeks is not None
    assert 25 <= weeks <= 50  # England: 38 weeks
    # some children have three or more workers, some three or more placements in a year
    assert mid_sized_evaluation.figure("SW-CHANGES", "as_at").numerator > 0
    assert mid_sized_evaluation.figure("PLACEMENT-3PLUS", "as_at").numerator > 0
    assert mid_sized_evaluation.figure("CPP-REPEAT", "rolling_12_months").numerator > 0
    # part of the breaches have a reason recorded, part not
    reasons = Counter(b.reason for b in mid_sized_evaluation.breaches)
    assert reasons["reason_not_recorded"] > 0
    assert len(reasons) > 3


# --- replay files ---------------------------------------------------------------------------


def test_replay_files_round_trip(small: list[Event], tmp_path: Path) -> None:
    path = tmp_path / "year.jsonl"
    assert write_jsonl(small, path) == len(small)
    assert path.read_text().count("\n") == len(small)
    assert list(read_jsonl(path)) == small


# --- routing and posting --------------------------------------------------------------------


def _event(event_type: str, episode: str, payload: dict[str, Any] | None = None) -> Event:
    return {"event_type": event_type, "episode_id": episode, "child_id": "C-1", "payload": payload}


@pytest.mark.parametrize("event_type", sorted(set(EVENT_TYPES) - set(SHARED_EVENT_TYPES)))
def test_each_owned_type_goes_to_its_owner(event_type: str) -> None:
    known: dict[str, str] = {}
    assert route_event(_event(event_type, "EP-1"), known) == owner_of(event_type)
    assert known == {"EP-1": owner_of(event_type)}


def test_voids_and_exception_reasons_go_to_the_episodes_service() -> None:
    known: dict[str, str] = {}
    route_event(_event("care_proceedings_issued", "PROC-1"), known)
    route_event(_event("assessment_started", "ASMT-1"), known)
    reason = {"kpi": "PROC-26W", "reason": "court_listing"}
    assert route_event(_event("exception_reason_recorded", "PROC-1", reason), known) == (
        "placements"
    )
    reason = {"kpi": "ASMT-45WD", "reason": "transfer_in"}
    assert route_event(_event("exception_reason_recorded", "ASMT-1", reason), known) == (
        "assessments"
    )
    void = {"voided_event_id": "x", "voided_event_type": "visit_held"}
    assert route_event(_event("event_voided", "VIS-9", void), known) == "assessments"
    # an episode not seen yet: by the KPI the reason is about
    reason = {"kpi": "PLO-16W", "reason": "other"}
    assert route_event(_event("exception_reason_recorded", "PLO-7", reason), {}) == "placements"
    reason = {"kpi": "RCPC-TIMELY", "reason": "chair_agreed_delay"}
    assert route_event(_event("exception_reason_recorded", "CPP-7", reason), {}) == "referrals"


def test_every_generated_event_is_routed_to_a_service_that_accepts_it(
    small: list[Event],
) -> None:
    known: dict[str, str] = {}
    for e in small:
        assert e["event_type"] in accepted_types(route_event(e, known))
    exceptions = [e for e in small if e["event_type"] == "exception_reason_recorded"]
    assert exceptions
    for e in exceptions:
        assert route_event(e, known) == known[e["episode_id"]]


class FakeIngest:
    """The three ingest services' /events/batch, in process."""

    def __init__(self, fail_first: int = 0, refuse: bool = False) -> None:
        self.received: dict[str, list[Event]] = defaultdict(list)
        self.fail_first = fail_first
        self.refuse = refuse
        self.requests = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        assert request.url.path == "/events/batch"
        service = request.url.host.removesuffix(".test")
        if self.fail_first:
            self.fail_first -= 1
            return httpx.Response(503, headers={"Retry-After": "0"}, json={"detail": "later"})
        events = json.loads(request.content)["events"]
        if self.refuse:
            return httpx.Response(422, json={"detail": [{"field": "events.0.team"}]})
        assert all(e["event_type"] in accepted_types(service) for e in events)
        self.received[service].extend(events)
        return httpx.Response(202, json={"count": len(events), "accepted": []})


async def test_posting_routes_batches_and_keeps_each_childs_order(small: list[Event]) -> None:
    events = small[:3000]
    ingest = FakeIngest(fail_first=2)
    progress: list[int] = []
    report = await post_events(
        events,
        URLS,
        batch_size=100,
        concurrency=3,
        on_progress=progress.append,
        transport=httpx.MockTransport(ingest),
    )
    assert report.total == len(events) == sum(progress)
    assert report.retries == 2
    known: dict[str, str] = {}
    expected: dict[str, list[Event]] = defaultdict(list)
    for e in events:
        expected[route_event(e, known)].append(e)
    assert report.accepted == {s: len(expected[s]) for s in URLS}
    for service, sent in expected.items():
        got = ingest.received[service]
        assert sorted(e["event_id"] + str(e["revision"]) for e in got) == sorted(
            e["event_id"] + str(e["revision"]) for e in sent
        )
        for child in {e["child_id"] for e in sent}:
            assert [e for e in got if e["child_id"] == child] == [
                e for e in sent if e["child_id"] == child
            ]


async def test_a_refused_batch_raises_with_the_answer(small: list[Event]) -> None:
    with pytest.raises(PostError, match=r"422.*events\.0\.team"):
        await post_events(small[:50], URLS, transport=httpx.MockTransport(FakeIngest(refuse=True)))


async def test_unavailable_for_good_gives_up(small: list[Event]) -> None:
    ingest = FakeIngest(fail_first=100)
    with pytest.raises(PostError, match="503"):
        await post_events(small[:5], URLS, max_retries=2, transport=httpx.MockTransport(ingest))
    assert ingest.requests <= 3 * len(URLS)
