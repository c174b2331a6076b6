"""Benchmark (issue 12): what the KPI service costs against the size of its case book, on the
real Kafka and PostgreSQL (``scripts/infra.sh up``), each figure beside its baseline.

For each size, a synthetic council's two years of events on fresh topics, then:

1. Rebuild: ``python -m kpi rebuild`` replays the log into a fresh database; the baseline is a
   plain aiokafka consumer reading and json-decoding the same events. The projection to a
   national year of 10M events is linear in events (the replay is).
2. Facts: the KPI service, started on the rebuilt store, derives every unit's facts at the
   dates it keeps. From its start to the end, ``/healthz`` is asked every 20 ms: the slowest
   answer is how long the event loop stalled. The log is searched for the consumer dropping
   out of its group.
3. Memory: the service's resident set once the facts are derived, and its peak.
4. ``/kpis?as_at=``: for a kept past date (read from the totals) and for a date it does not
   keep (a whole-book evaluation, the fallback).
5. Freshness: referrals published at a low steady rate, each timed from publishing to ``/kpis``
   counting it.

    uv run python bench/scale.py [--children-per-year 1000 4000 16000]
    uv run python bench/scale.py --smoke   # CI: one small size, checks it runs, writes nothing

Rows are appended to bench/RESULTS.md and the plot written to bench/scale.png unless --smoke.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from bench_support import (
    KAFKA,
    ROOT,
    append_row,
    baseline,
    children_in,
    commit,
    council_events,
    drop_databases,
    fresh_database,
    percentile,
    publish,
    referral,
    rss_mb,
    today,
)
from casetime.access.admin import create_reader_token
from casetime.access.store import AccessStore
from casetime.publishing import ensure_topics
from casetime.topics import event_topics, topic_for
from kpi.domain.periods import PeriodKind
from kpi.domain.report import previous_as_at
from kpi.settings import KpiSettings

AS_AT = date(2025, 3, 31)
NOT_KEPT = date(2024, 11, 13)  # neither the live date nor one it is compared with
NATIONAL_YEAR = 10_000_000
PLOT = ROOT / "bench" / "scale.png"


@dataclass
class SizeResult:
    children: int
    events: int
    baseline_ev_s: float
    rebuild_s: float
    rebuild_ev_s: float
    national_rebuild_min: float
    facts_s: float
    stall_max_ms: float
    stall_p99_ms: float
    dropped_out: int
    rss_mb: float
    peak_mb: float
    kept_p50_ms: float
    kept_p99_ms: float
    not_kept_p50_ms: float
    not_kept_p99_ms: float
    fresh_p50_s: float
    fresh_p99_s: float
    fresh_n: int


class Service:
    """``python -m kpi`` as its own process, as an operator runs it."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.port = _free_port()
        self.env = {**os.environ, **env, "CASETIME_PORT": str(self.port)}
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def run(self, *args: str) -> None:
        with self.log.open("ab") as out:
            subprocess.run(
                [sys.executable, "-m", "kpi", *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                check=True,
                timeout=7_200,
            )

    def start(self) -> None:
        out = self.log.open("ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "kpi"], env=self.env, stdout=out, stderr=subprocess.STDOUT
        )

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(60)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def commit_group_at_end(prefix: str, group: str) -> None:
    """The rebuild reads without a group; a service that had been running would have its group
    at the end of the log. Put it there, so the service starts from where the rebuild stopped."""
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, group_id=group, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p)
            for topic in event_topics(prefix)
            for p in consumer.partitions_for_topic(topic) or await _partitions(consumer, topic)
        ]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        await consumer.commit({tp: offset for tp, offset in ends.items()})
    finally:
        await consumer.stop()


async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
    await consumer._client.force_metadata_update()
    return set(consumer.partitions_for_topic(topic) or ())


async def pending_units(client: httpx.AsyncClient) -> float | None:
    for line in (await client.get("/metrics")).text.splitlines():
        if line.startswith("casetime_kpi_facts_pending_units "):
            return float(line.split()[1])
    return None


class Prober:
    """Asks /healthz every 20 ms for as long as it runs: the slowest answer is how long the
    event loop stalled, whatever the service was doing."""

    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client, self.answers = client, list[float]()
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            asked = time.perf_counter()
            try:
                await self.client.get("/healthz", timeout=120)
                self.answers.append(time.perf_counter() - asked)
            except httpx.TransportError:
                await asyncio.sleep(0.2)  # still starting
            await asyncio.sleep(0.02)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


async def derived(client: httpx.AsyncClient) -> float:
    """Seconds until every unit's facts are derived."""
    started = time.perf_counter()
    while time.perf_counter() < started + 7_200:
        try:
            ready = (await client.get("/readyz")).status_code == 200
        except httpx.TransportError:
            ready = False
        if ready and await pending_units(client) == 0:
            return time.perf_counter() - started
        await asyncio.sleep(0.5)
    raise TimeoutError("the facts were not derived in two hours")


async def measured_service(
    client: httpx.AsyncClient, service: Service, prefix: str, fresh_count: int, repeats: int
) -> tuple[float, float, float, list[float], list[float], list[float]]:
    facts_s = await derived(client)
    assert service.process is not None
    rss, peak = rss_mb(service.process.pid), rss_mb(service.process.pid, "VmHWM")
    kept_day = previous_as_at(PeriodKind.MONTH, AS_AT)
    kept = await timed_gets(client, f"/kpis?as_at={kept_day}", repeats)
    not_kept = await timed_gets(client, f"/kpis?as_at={NOT_KEPT}", max(2, repeats // 30))
    lags = await freshness(client, prefix, rate=5, count=fresh_count)
    return facts_s, rss, peak, kept, not_kept, lags


async def reader_token(url: str) -> str:
    store = AccessStore(url)
    try:
        made = await create_reader_token(store, "bench", set(), datetime.now(UTC))
    finally:
        await store.dispose()
    return made.token


async def timed_gets(client: httpx.AsyncClient, path: str, repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        answer = await client.get(path, timeout=300)
        answer.raise_for_status()
        times.append(time.perf_counter() - started)
    return times


async def referrals_counted(client: httpx.AsyncClient) -> int:
    answer = await client.get(
        "/kpis", params={"kpi": "RATE-CIN", "period": "as_at", "level": "council"}
    )
    return int(answer.json()["values"][0]["numerator"])


async def freshness(client: httpx.AsyncClient, prefix: str, rate: float, count: int) -> list[float]:
    """Seconds from publishing each referral, one at a time, to /kpis counting it."""
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, linger_ms=0, acks="all")
    await producer.start()
    lags = []
    try:
        for i in range(count):
            before = await referrals_counted(client)
            child = f"S{i}-{uuid.uuid4().hex[:6]}"
            started = time.perf_counter()
            await producer.send_and_wait(
                topic_for("referrals", prefix), referral(child, AS_AT), key=child.encode()
            )
            async with asyncio.timeout(120):
                while await referrals_counted(client) <= before:  # noqa: ASYNC110  # polling the service
                    await asyncio.sleep(0.01)
            lags.append(time.perf_counter() - started)
            await asyncio.sleep(max(0.0, 1 / rate - lags[-1]))
    finally:
        await producer.stop()
    return lags


async def measure(
    children_per_year: int, work: Path, fresh_count: int, repeats: int = 100
) -> SizeResult:
    bodies = council_events(children_per_year)
    events, children = len(bodies), children_in(bodies)
    prefix = f"scale-{uuid.uuid4().hex[:8]}"
    group = f"{prefix}-kpi"
    await ensure_topics(KpiSettings(kafka_bootstrap_servers=KAFKA), event_topics(prefix))
    await publish(prefix, bodies)
    del bodies
    baseline_s = await baseline(prefix, events)

    url = await fresh_database()
    service = Service(
        {
            "CASETIME_DATABASE_URL": url,
            "CASETIME_KAFKA_BOOTSTRAP_SERVERS": KAFKA,
            "CASETIME_TOPIC_PREFIX": prefix,
            "CASETIME_CONSUMER_GROUP": group,
            "CASETIME_KPI_AS_AT": AS_AT.isoformat(),
            "CASETIME_QUERY_BUDGET_SECONDS": "300",
            # measured here: speed, not the rate limits
            "CASETIME_EXPENSIVE_RATE_PER_SECOND": "1000",
        },
        work / f"kpi-{children_per_year}.log",
    )
    token = await reader_token(url)  # made before the rebuild, which carries it over
    try:
        started = time.perf_counter()
        await asyncio.to_thread(service.run, "rebuild")
        rebuild_s = time.perf_counter() - started
        await commit_group_at_end(prefix, group)
        service.start()
        async with httpx.AsyncClient(
            base_url=service.url,
            timeout=30,
            follow_redirects=True,
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            prober = Prober(client)
            prober.start()
            try:
                facts_s, rss, peak, kept, not_kept, lags = await measured_service(
                    client, service, prefix, fresh_count, repeats
                )
            finally:
                await prober.stop()
            answers = prober.answers
    finally:
        service.stop()
        await drop_databases(url)
    dropped = sum(
        ("heartbeat" in line.lower() and "fail" in line.lower()) or "rebalanc" in line.lower()
        for line in service.log.read_text(errors="replace").splitlines()
    )
    return SizeResult(
        children=children,
        events=events,
        baseline_ev_s=events / baseline_s,
        rebuild_s=rebuild_s,
        rebuild_ev_s=events / rebuild_s,
        national_rebuild_min=NATIONAL_YEAR / (events / rebuild_s) / 60,
        facts_s=facts_s,
        stall_max_ms=max(answers) * 1000,
        stall_p99_ms=percentile(answers, 0.99) * 1000,
        dropped_out=dropped,
        rss_mb=rss,
        peak_mb=peak,
        kept_p50_ms=percentile(kept, 0.5) * 1000,
        kept_p99_ms=percentile(kept, 0.99) * 1000,
        not_kept_p50_ms=percentile(not_kept, 0.5) * 1000,
        not_kept_p99_ms=percentile(not_kept, 0.99) * 1000,
        fresh_p50_s=percentile(lags, 0.5),
        fresh_p99_s=percentile(lags, 0.99),
        fresh_n=len(lags),
    )


def write_down(results: list[SizeResult]) -> None:
    head = (
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python"
        f" {platform.python_version()}; Kafka and PostgreSQL from `scripts/infra.sh up`.\n\n"
        "| date | commit | children | events | rebuild (ratio to a plain consumer) | 10M"
        " events, projected | facts derived | /healthz slowest (p99) | RSS (peak) |"
        " /kpis?as_at= kept date p50 / p99 | other date p50 / p99 | event to /kpis p50 / p99 |"
        "\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n"
    )
    for r in results:
        row = (
            f"| {today()} | {commit()} | {r.children:,} | {r.events:,} |"
            f" {r.rebuild_s:,.0f} s, {r.rebuild_ev_s:,.0f} ev/s"
            f" ({r.rebuild_ev_s / r.baseline_ev_s:.3f}) | {r.national_rebuild_min:,.0f} min |"
            f" {r.facts_s:,.0f} s | {r.stall_max_ms:,.0f} ms ({r.stall_p99_ms:,.0f} ms) |"
            f" {r.rss_mb:,.0f} MB ({r.peak_mb:,.0f} MB) |"
            f" {r.kept_p50_ms:,.0f} / {r.kept_p99_ms:,.0f} ms |"
            f" {r.not_kept_p50_ms:,.0f} / {r.not_kept_p99_ms:,.0f} ms |"
            f" {r.fresh_p50_s:.2f} / {r.fresh_p99_s:.2f} s |\n"
        )
        append_row("## Cost against case-book size (`uv run python bench/scale.py`)", head, row)


def plot(results: list[SizeResult], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [r.children for r in results]
    figure, (cost, fresh) = plt.subplots(1, 2, figsize=(11, 4.2))
    cost.plot(sizes, [r.rebuild_s for r in results], "o-", label="rebuild (replay)")
    cost.plot(sizes, [r.facts_s for r in results], "s-", label="facts derived after it")
    cost.plot(sizes, [r.not_kept_p50_ms / 1000 for r in results], "^-", label="other date")
    cost.set(xlabel="children in the case book", ylabel="seconds", title="Cost against size")
    memory = cost.twinx()
    memory.plot(sizes, [r.rss_mb for r in results], "k:", label="RSS (MB, right)")
    memory.set_ylabel("MB")
    memory.set_ylim(bottom=0)
    cost.legend(loc="upper left", fontsize=8)
    memory.legend(loc="lower right", fontsize=8)
    fresh.plot(sizes, [r.fresh_p99_s * 1000 for r in results], "o-", label="event to /kpis p99")
    fresh.plot(sizes, [r.kept_p99_ms for r in results], "s-", label="kept past date p99")
    fresh.plot(sizes, [r.stall_p99_ms for r in results], "^-", label="/healthz p99")
    fresh.axhline(1000, color="grey", linestyle="--", linewidth=1, label="1 s target")
    fresh.set(xlabel="children in the case book", ylabel="milliseconds", title="Freshness")
    fresh.set_ylim(bottom=0)
    fresh.legend(fontsize=8)
    for axes in (cost, fresh):
        axes.set_xscale("log")
        axes.minorticks_off()
        axes.set_xticks(sizes, [f"{size:,}" for size in sizes])
    figure.tight_layout()
    figure.savefig(path, dpi=110)


async def main(args: argparse.Namespace) -> list[SizeResult]:
    work = Path(args.work)
    return [await measure(size, work, args.fresh, args.repeats) for size in args.children_per_year]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--children-per-year", type=int, nargs="+", default=[1_000, 4_000, 16_000])
    parser.add_argument("--fresh", type=int, default=50, help="referrals timed for freshness")
    parser.add_argument("--work", default=str(ROOT / ".casetime" / "bench"))
    parser.add_argument("--plot", default=str(PLOT))
    parser.add_argument("--repeats", type=int, default=100, help="reads of a kept past date")
    parser.add_argument("--smoke", action="store_true")
    parsed = parser.parse_args()
    if parsed.smoke:
        parsed.children_per_year, parsed.fresh, parsed.repeats = [40], 5, 20
    Path(parsed.work).mkdir(parents=True, exist_ok=True)
    outcome = asyncio.run(main(parsed))
    print(json.dumps([asdict(r) for r in outcome], indent=2))
    plot(outcome, Path(parsed.plot))
    if not parsed.smoke:
        write_down(outcome)
    sys.exit(0)
