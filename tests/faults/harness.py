"""Fault-injection harness: the four services as real processes, a sender that keeps every
event body an ingest service acknowledged (2xx) and retries the others until accepted, and the
oracle: the KPI service's figures equal a recomputation from scratch over exactly those events.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import signal
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from casetime.events import EVENT_TYPES, parse_event
from casetime.examples import example_event
from casetime.topics import owner_of
from kpi.adapters.council_file import load_council_config
from kpi.domain.calendar import england_calendar
from kpi.domain.casebook import RuleContext
from kpi.domain.evaluation import evaluate
from kpi.domain.recompute import casebook_from_events
from tests.support import credentials as authed
from tests.support.credentials import AUTH, Credentials, present
from tests.support.processes import ServiceProcess, scrape

INGEST = ("referrals", "assessments", "placements")
LIVE_AS_AT = "2025-02-14"
# Dates the oracle compares at: mid-story and after every story has ended.
CHECK_DATES = (date(2025, 6, 30), date(2026, 3, 31))
TEAMS = ("North Assessment", "South Assessment", "MASH", "Court Team")
# every episode id the contract's example story uses, rewritten per child
_EPISODE_IDS = sorted(
    {e for t in EVENT_TYPES if (e := example_event(t).get("episode_id"))}, key=len, reverse=True
)

Event = dict[str, Any]


# --- event histories ---------------------------------------------------------------------------


def _shift(value: str, days: int) -> str:
    if "T" in value:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00")) + timedelta(days=days)
        return moment.isoformat().replace("+00:00", "Z")
    return (date.fromisoformat(value) + timedelta(days=days)).isoformat()


def _recorded_at(occurred_at: str, lag_days: int) -> str:
    day = date.fromisoformat(occurred_at[:10]) + timedelta(days=lag_days)
    return f"{day.isoformat()}T17:00:00Z"


def child_story(run: str, n: int) -> list[Event]:
    """One child's whole story, every event type (front door, assessment, section 47, CP plan,
    visits, CIN, care, placements, health, PLO, proceedings), with unique ids, shifted dates,
    one team per child; every third child has its assessment completion amended (revision 2),
    every fourth has it voided (the other voids withdraw an event that was never sent)."""
    child = f"C-{run}-{n:03d}"
    days = (n * 11) % 75
    text = json.dumps([example_event(t) for t in EVENT_TYPES])
    for episode_id in _EPISODE_IDS:
        text = text.replace(f'"{episode_id}"', f'"{episode_id}-{child}"')
    events: list[Event] = json.loads(text)
    for event in events:
        event["event_id"] = f"{child}-{event['event_type']}"
        event["child_id"] = child
        event["team"] = TEAMS[n % len(TEAMS)]
        event["occurred_at"] = _shift(event["occurred_at"], days)
        event["recorded_at"] = _recorded_at(event["occurred_at"], n % 5)
        if event["event_type"] == "event_voided":
            target = "assessment_completed" if n % 4 == 0 else "never-sent"
            event["payload"]["voided_event_id"] = f"{child}-{target}"
    if n % 3 == 0:
        completed = next(e for e in events if e["event_type"] == "assessment_completed")
        amended = json.loads(json.dumps(completed))
        amended["revision"] = 2
        amended["occurred_at"] = _shift(completed["occurred_at"], -12 - n % 9)
        amended["recorded_at"] = _recorded_at(amended["occurred_at"], 1)
        events.append(amended)
    return events


def service_for(event: Event) -> str:
    if event["event_type"] in ("exception_reason_recorded", "event_voided"):
        return "placements"
    return owner_of(event["event_type"])


def batches_for(stories: Iterable[list[Event]], size: int) -> list[tuple[str, list[Event]]]:
    """Each story's events in story order, grouped per ingest service into small batches,
    stories interleaved so that the stream keeps touching every topic."""
    out: list[tuple[str, list[Event]]] = []
    for story in stories:
        per_service: dict[str, list[Event]] = {}
        for event in story:
            per_service.setdefault(service_for(event), []).append(event)
        for service, events in per_service.items():
            for i in range(0, len(events), size):
                out.append((service, events[i : i + size]))
    return out


# --- the sender ---------------------------------------------------------------------------------


@dataclass
class Attempt:
    url: str
    sent_at: float
    answered_at: float
    status: int | None  # None: no answer (connection refused, reset, timeout)
    retry_after: str | None
    events: int


@dataclass
class Ledger:
    """Every event body acknowledged with a 2xx, and every attempt made."""

    accepted: list[Event] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, attempt: Attempt, events: Sequence[Event]) -> None:
        with self.lock:
            self.attempts.append(attempt)
            if attempt.status is not None and 200 <= attempt.status < 300:
                self.accepted.extend(json.loads(json.dumps(list(events))))

    @property
    def accepted_ids(self) -> set[str]:
        return {e["event_id"] for e in self.accepted}

    def latest_revisions(self) -> dict[str, int]:
        latest: dict[str, int] = {}
        for e in self.accepted:
            latest[e["event_id"]] = max(latest.get(e["event_id"], 0), int(e.get("revision", 1)))
        return latest

    def statuses(self) -> Counter[int | None]:
        return Counter(a.status for a in self.attempts)


def post_once(client: httpx.Client, url: str, events: Sequence[Event], ledger: Ledger) -> bool:
    sent = time.monotonic()
    status: int | None = None
    retry_after = None
    try:
        response = client.post(f"{url}/events/batch", json={"events": list(events)})
        status = response.status_code
        retry_after = response.headers.get("Retry-After")
        if status in (401, 403, 422):
            raise AssertionError(f"sender bug, {status} from {url}: {response.text}")
    except httpx.HTTPError:
        status = None
    ledger.record(Attempt(url, sent, time.monotonic(), status, retry_after, len(events)), events)
    return status is not None and 200 <= status < 300


def post_until_accepted(
    client: httpx.Client,
    urls: Callable[[], Sequence[str]],
    events: Sequence[Event],
    ledger: Ledger,
    deadline: float,
) -> None:
    """What a case system does: retry (on the next instance, if there are several) until a 2xx.
    Retry-After (5 s) is shortened to 0.3 s to keep the tests fast; the contract is the same."""
    turn = 0
    while True:
        candidates = urls()
        url = candidates[turn % len(candidates)]
        turn += 1
        if post_once(client, url, events, ledger):
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"events never accepted: {[e['event_id'] for e in events]}")
        time.sleep(0.3)


def stream(run: str, size: int) -> Iterator[tuple[str, list[Event]]]:
    """An endless stream of batches: child after child, each child's story in order."""
    for n in itertools.count():
        yield from batches_for([child_story(run, n)], size)


class Poster(threading.Thread):
    """Posts batches in the background, one every `pace` seconds, each until accepted, until
    `finish()` (or until the batches run out)."""

    def __init__(
        self,
        batches: Iterable[tuple[str, list[Event]]],
        urls: Callable[[str], Sequence[str]],
        ledger: Ledger,
        pace: float,
        timeout: float = 180.0,
        client_timeout: float = 30.0,
    ) -> None:
        super().__init__(daemon=True, name="poster")
        self.client_timeout = client_timeout
        self.batches = iter(batches)
        self.urls = urls
        self.ledger = ledger
        self.pace = pace
        self.deadline = time.monotonic() + timeout
        self.error: BaseException | None = None
        self.posted = 0
        self._stopping = threading.Event()

    def run(self) -> None:
        try:
            with httpx.Client(timeout=self.client_timeout, auth=AUTH) as client:
                for service, events in self.batches:
                    post_until_accepted(
                        client,
                        functools.partial(self.urls, service),
                        events,
                        self.ledger,
                        self.deadline,
                    )
                    self.posted += 1
                    if self._stopping.wait(self.pace):
                        return
        except BaseException as exc:  # reported by finish()
            self.error = exc

    def finish(self, timeout: float = 180.0) -> None:
        """Stop after the batch in hand is accepted."""
        self._stopping.set()
        self.join(timeout)
        assert not self.is_alive(), "poster did not finish"
        if self.error is not None:
            raise self.error


# --- the system ---------------------------------------------------------------------------------


@dataclass
class FaultSystem:
    topic_prefix: str
    kafka_bootstrap: str
    database_url: str
    log_dir: Path
    ingest_env: dict[str, str]
    kpi_env: dict[str, str]
    ingest: dict[str, list[ServiceProcess]] = field(default_factory=dict)
    kpi: ServiceProcess | None = None
    credentials: Credentials | None = None

    @property
    def kpi_url(self) -> str:
        assert self.kpi is not None
        return self.kpi.url

    def urls(self, service: str) -> list[str]:
        return [p.url for p in self.ingest[service] if p.process is not None]

    def add_ingest(self, service: str) -> ServiceProcess:
        process = ServiceProcess(service, self.ingest_env, self.log_dir)
        assert self.credentials is not None
        present(process.url, self.credentials.source_key, reader=self.credentials.reader)
        process.start()
        self.ingest.setdefault(service, []).append(process)
        return process

    def start(self) -> None:
        for service in INGEST:
            self.add_ingest(service)
        self.kpi = ServiceProcess("kpi", self.kpi_env, self.log_dir)
        assert self.credentials is not None
        present(self.kpi.url, self.credentials.reader)
        self.kpi.start()
        for process in self.processes():
            process.wait_ready()

    def processes(self) -> list[ServiceProcess]:
        out = [p for ps in self.ingest.values() for p in ps]
        return out + ([self.kpi] if self.kpi is not None else [])

    def restart_kpi(self, sig: int = signal.SIGKILL) -> int | None:
        assert self.kpi is not None
        code = self.kpi.stop(sig)
        self.kpi.start()
        return code

    def stop(self) -> None:
        for process in self.processes():
            process.stop()

    def log_tails(self) -> str:
        return "\n".join(f"--- {p.module}:{p.port}\n{p.log_tail(15)}" for p in self.processes())


def metric(url: str, name: str, **labels: str) -> float:
    return scrape(url).get((name, tuple(sorted(labels.items()))), 0.0)


def outcomes(url: str) -> dict[str, float]:
    samples = scrape(url)
    return {
        dict(labels)["outcome"]: value
        for (name, labels), value in samples.items()
        if name == "casetime_kpi_events_total"
    }


def total_lag(url: str) -> float:
    return sum(
        value
        for (name, _), value in scrape(url).items()
        if name == "casetime_kpi_consumer_lag_events"
    )


def pg_dsn(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://")


async def _query(dsn: str, sql: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(sql))
    finally:
        await conn.close()


def query(database_url: str, sql: str) -> list[asyncpg.Record]:
    return asyncio.run(_query(pg_dsn(database_url), sql))


def stored_revisions(database_url: str) -> dict[str, int]:
    rows = query(database_url, "SELECT event_id, revision FROM case_event")
    return {r["event_id"]: r["revision"] for r in rows}


def wait_until_applied(system: FaultSystem, ledger: Ledger, timeout: float = 120.0) -> float:
    """Until the store holds exactly the latest accepted revision of every accepted event and the
    consumer has nothing left to read; returns the seconds waited."""
    started = time.monotonic()
    want = ledger.latest_revisions()
    held: dict[str, int] = {}
    lag = -1.0
    while time.monotonic() - started < timeout:
        try:
            held = stored_revisions(system.database_url)
            lag = total_lag(system.kpi_url)
        except (OSError, httpx.HTTPError, asyncpg.PostgresError):
            time.sleep(0.5)
            continue
        if held == want and lag == 0:
            return time.monotonic() - started
        time.sleep(0.5)
    missing = sorted(set(want) - set(held))
    extra = sorted(set(held) - set(want))
    wrong = sorted(k for k in set(want) & set(held) if want[k] != held[k])
    raise AssertionError(
        f"not applied after {timeout}s: {len(missing)} missing (e.g. {missing[:5]}), "
        f"{len(extra)} never accepted (e.g. {extra[:5]}), {len(wrong)} wrong revision "
        f"(e.g. {wrong[:5]}), lag {lag}\n{system.log_tails()}"
    )


def council_figures(url: str, as_at: date) -> dict[tuple[str, str], tuple[int, int]]:
    response = authed.get(
        f"{url}/kpis", params={"as_at": as_at.isoformat(), "level": "council"}, timeout=120
    )
    response.raise_for_status()
    return {
        (v["kpi"], v["period"]): (v["numerator"], v["denominator"])
        for v in response.json()["values"]
    }


def recomputed_figures(
    events: Sequence[Event], as_at: date
) -> dict[tuple[str, str], tuple[int, int]]:
    config = load_council_config(None)
    reference = evaluate(
        casebook_from_events([parse_event(json.dumps(e)) for e in events]),
        RuleContext(as_at, england_calendar(), config.rule_settings()),
        config,
    )
    return {
        (f.kpi, f.period): (f.figure.numerator, f.figure.denominator)
        for f in reference.figures
        if f.team == "all"
    }


def assert_figures_match_recomputation(system: FaultSystem, ledger: Ledger) -> int:
    """POST /kpis/refresh, then every KPI and period at the council level, at every check date,
    equals the recomputation from scratch over exactly the accepted events. Returns how many
    figures had a non-zero denominator."""
    authed.post(f"{system.kpi_url}/kpis/refresh", timeout=120).raise_for_status()
    nonzero = 0
    for as_at in CHECK_DATES:
        live = council_figures(system.kpi_url, as_at)
        expected = recomputed_figures(ledger.accepted, as_at)
        assert live.keys() == expected.keys()
        diff = {k: (live[k], expected[k]) for k in expected if live[k] != expected[k]}
        assert not diff, f"as at {as_at}, (live, recomputed) differ: {diff}"
        nonzero += sum(1 for _, d in expected.values() if d)
    assert nonzero >= 20, "the histories should reach most of the catalogue"
    return nonzero


def readyz(url: str) -> int | None:
    try:
        return httpx.get(f"{url}/readyz", timeout=3).status_code
    except httpx.HTTPError:
        return None


def wait_ready(url: str, timeout: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        try:
            if httpx.get(f"{url}/readyz", timeout=3).status_code == 200:
                return time.monotonic() - started
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError(f"{url} not ready within {timeout}s")
