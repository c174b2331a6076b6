"""Posting events to the ingest services as a case system does: each event to the service that
owns its type, in batches, a child's events in order, retrying when told to wait (429, 503).
Used by the command line, the returns importers and the SSD connector."""

from __future__ import annotations

import asyncio
import time
import zlib
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from casetime.topics import SERVICE_EVENT_TYPES, owner_of

if TYPE_CHECKING:
    import httpx

_KPI_SERVICE_PREFIXES: Final = (
    ("ASMT", "assessments"),
    ("PLO", "placements"),
    ("PROC", "placements"),
    ("CLA", "placements"),
    ("PLACEMENT", "placements"),
    ("RETURN", "placements"),
)
_OWNED: Final = frozenset(t for types in SERVICE_EVENT_TYPES.values() for t in types)


def route_event(event: Mapping[str, Any], episode_services: MutableMapping[str, str]) -> str:
    """The ingest service an event goes to. Owned types go to their owner, and the episode is
    remembered in ``episode_services``; a void goes to the owner of the type it voids; an
    exception reason to the service of the episode it is about (else by its KPI)."""
    event_type = event["event_type"]
    episode = event["episode_id"]
    if event_type in _OWNED:
        service = owner_of(event_type)
        episode_services[episode] = service
        return service
    payload = event.get("payload") or {}
    if event_type == "event_voided":
        voided = payload.get("voided_event_type")
        if voided in _OWNED:
            return owner_of(voided)
    if episode in episode_services:
        return episode_services[episode]
    kpi = str(payload.get("kpi", ""))
    for prefix, service in _KPI_SERVICE_PREFIXES:
        if kpi.startswith(prefix):
            return service
    return "referrals"


class PostError(RuntimeError):
    """An ingest service refused a batch (4xx), or stayed unavailable."""

    def __init__(self, url: str, status: int | None, text: str) -> None:
        super().__init__(f"POST {url} answered {status}: {text}")
        self.url = url
        self.status = status
        self.text = text


@dataclass
class PostReport:
    accepted: dict[str, int] = field(default_factory=dict)
    elapsed_seconds: float = 0.0
    batches: int = 0
    retries: int = 0

    @property
    def total(self) -> int:
        return sum(self.accepted.values())

    @property
    def events_per_second(self) -> float:
        return self.total / self.elapsed_seconds if self.elapsed_seconds else 0.0


def _retry_after(value: str | None, default: float) -> float:
    try:
        return min(max(float(value), 0.0), 60.0) if value is not None else default
    except ValueError:
        return default


_Batch = list[Mapping[str, Any]]


@dataclass
class _Poster:
    """The lanes of ``post_events``: one queue of batches per service and slot of children."""

    client: httpx.AsyncClient
    urls: Mapping[str, str]
    report: PostReport
    gate: asyncio.Semaphore
    max_retries: int
    on_progress: Callable[[int], None] | None

    async def send(self, service: str, batch: list[Mapping[str, Any]]) -> None:
        import httpx

        url = self.urls[service].rstrip("/") + "/events/batch"
        attempt = 0
        while True:
            try:
                async with self.gate:
                    response = await self.client.post(url, json={"events": batch})
            except httpx.TransportError as exc:
                if attempt >= self.max_retries:
                    raise PostError(url, None, repr(exc)) from exc
                attempt += 1
                self.report.retries += 1
                await asyncio.sleep(min(0.5 * 2**attempt, 10.0))
                continue
            if response.status_code in (429, 503) and attempt < self.max_retries:
                attempt += 1
                self.report.retries += 1
                await asyncio.sleep(_retry_after(response.headers.get("Retry-After"), 1.0))
                continue
            if not response.is_success:
                raise PostError(url, response.status_code, response.text)
            break
        self.report.accepted[service] += len(batch)
        self.report.batches += 1
        if self.on_progress is not None:
            self.on_progress(len(batch))

    async def lane(
        self, service: str, queue: asyncio.Queue[list[Mapping[str, Any]] | None]
    ) -> None:
        while (batch := await queue.get()) is not None:
            await self.send(service, batch)

    async def post(
        self, events: Iterable[Mapping[str, Any]], batch_size: int, concurrency: int
    ) -> None:
        episode_services: dict[str, str] = {}
        buffers: dict[tuple[str, int], list[Mapping[str, Any]]] = {}
        queues: dict[tuple[str, int], asyncio.Queue[list[Mapping[str, Any]] | None]] = {}
        async with asyncio.TaskGroup() as group:
            for count, event in enumerate(events):
                service = route_event(event, episode_services)
                if service not in self.urls:
                    raise KeyError(f"no URL for service {service!r}")
                slot = (service, zlib.crc32(str(event["child_id"]).encode()) % concurrency)
                if slot not in queues:
                    queues[slot] = asyncio.Queue(maxsize=2)
                    buffers[slot] = []
                    group.create_task(self.lane(service, queues[slot]))
                buffer = buffers[slot]
                buffer.append(event)
                if len(buffer) >= batch_size:
                    await queues[slot].put(buffer)
                    buffers[slot] = []
                elif count % 1000 == 0:
                    await asyncio.sleep(0)
            for slot, buffer in buffers.items():
                if buffer:
                    await queues[slot].put(buffer)
                await queues[slot].put(None)


async def post_events(
    events: Iterable[Mapping[str, Any]],
    urls: Mapping[str, str],
    *,
    batch_size: int = 500,
    concurrency: int = 4,
    on_progress: Callable[[int], None] | None = None,
    max_retries: int = 8,
    request_timeout: float = 60.0,
    transport: httpx.AsyncBaseTransport | None = None,
    source_key: str | None = None,
) -> PostReport:
    """POST events in batches to ``{urls[service]}/events/batch``, each to its service
    (``route_event``).

    Each service's events are split into ``concurrency`` lanes by child, and each lane posts its
    batches one after another, so a child's events reach a service in order; at most
    ``concurrency`` requests are in flight. A 503 or 429 is retried after its Retry-After (at most
    ``max_retries`` times, as are connection errors); any other non-2xx answer raises
    ``PostError`` with the response text. ``on_progress`` gets the count of each accepted batch.
    ``source_key`` is the case system's key (``casetime access source``).
    """
    import httpx

    if not 1 <= batch_size <= 500:
        raise ValueError("batch_size must be 1 to 500 (the ingest services' limit)")
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    report = PostReport(accepted={service: 0 for service in urls})
    began = time.perf_counter()
    headers = {"Authorization": f"Bearer {source_key}"} if source_key else {}
    async with httpx.AsyncClient(
        transport=transport, timeout=request_timeout, headers=headers
    ) as client:
        gate = asyncio.Semaphore(concurrency)
        poster = _Poster(client, urls, report, gate, max_retries, on_progress)
        try:
            await poster.post(events, batch_size, concurrency)
        except BaseExceptionGroup as group_error:
            first = group_error.exceptions[0]
            while isinstance(first, BaseExceptionGroup):
                first = first.exceptions[0]
            raise first from None
    report.elapsed_seconds = time.perf_counter() - began
    return report
