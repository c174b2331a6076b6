"""The ingest service's routes, and the use case behind them: check each event, publish the
valid ones, answer 202 only once the event log has them.

No ``from __future__ import annotations`` here: the event body's type is built at run time, per
service, and FastAPI must see it as a type, not a string."""

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter
from pydantic import TypeAdapter, ValidationError

from casetime.access.credentials import Credential
from casetime.access.gate import REFUSALS, Bearer, Gate
from casetime.errors import FieldError, describe_errors, error_responses
from casetime.events import EventEnvelope
from casetime.ingest.door import (
    MAX_BATCH,
    Accepted,
    BatchAccepted,
    BatchRejected,
    RawBatch,
    Rejected,
    Unavailable,
    implausible,
)
from casetime.publishing import EventPublisher, PublishUnavailableError
from casetime.settings import IngestSettings

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = "5"


@dataclass
class IngestMetrics:
    service: str
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.events_total = Counter(
            "casetime_ingest_events_total",
            "Events received, by outcome (accepted, unavailable).",
            ["service", "outcome"],
            registry=self.registry,
        )
        self.requests_rejected_total = Counter(
            "casetime_ingest_requests_rejected_total",
            "Requests refused as invalid (413, 415, 422).",
            ["service"],
            registry=self.registry,
        )
        # every known series from the start, so that a rate over them is 0, not absent
        for outcome in ("accepted", "unavailable"):
            self.events_total.labels(self.service, outcome)
        self.requests_rejected_total.labels(self.service)
        self.audit_failures_total = Counter(
            "casetime_ingest_audit_failures_total",
            "Accepted posts whose audit entry could not be written (each logged in full).",
            registry=self.registry,
        )

    def rejected(self) -> None:
        self.requests_rejected_total.labels(self.service).inc()


@dataclass
class Ingest:
    """Accepting events for one service's topic."""

    service: str
    topic: str
    settings: IngestSettings
    publisher: EventPublisher
    metrics: IngestMetrics
    events: TypeAdapter[EventEnvelope]
    gate: Gate

    async def _publish(
        self, events: list[EventEnvelope], source: Credential
    ) -> JSONResponse | None:
        """None once published; else the 503 to answer (nothing was accepted). The source
        key's name is stamped on every event, over what the sender wrote."""
        events = [e.model_copy(update={"source_system": source.name}) for e in events]
        try:
            await self.publisher.publish(self.topic, events)
        except PublishUnavailableError as exc:
            self.metrics.events_total.labels(self.service, "unavailable").inc(len(events))
            log.warning("publish failed, answering 503: %s", exc)
            return JSONResponse(
                status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
                content={"detail": "event log unavailable; nothing was accepted, retry later"},
                headers={"Retry-After": RETRY_AFTER_SECONDS},
            )
        self.metrics.events_total.labels(self.service, "accepted").inc(len(events))
        await self._audit_post(source, events)
        return None

    async def _audit_post(self, source: Credential, events: list[EventEnvelope]) -> None:
        ids = [e.event_id for e in events]
        try:
            await self.gate.audit(source, "post", {"service": self.service, "event_ids": ids})
        except Exception:
            # the events are in the log already: accepted, and the gap is loud
            self.metrics.audit_failures_total.inc()
            log.exception("audit entry not written: key %s posted %s", source.id, ids)

    async def accept_one(self, event: EventEnvelope, source: Credential) -> Any:
        errors = implausible(event, self.settings, datetime.now(UTC))
        if errors:
            self.metrics.rejected()
            return JSONResponse(status_code=422, content={"detail": errors})
        return await self._publish([event], source) or Accepted(
            event_id=event.event_id, revision=event.revision
        )

    def _check(self, items: list[Any]) -> tuple[list[EventEnvelope], list[Rejected]]:
        valid: list[EventEnvelope] = []
        rejected: list[Rejected] = []
        now = datetime.now(UTC)
        for index, item in enumerate(items):
            event_id = item.get("event_id") if isinstance(item, dict) else None
            try:
                event = self.events.validate_python(item)
                errors = implausible(event, self.settings, now)
            except ValidationError as exc:
                errors = describe_errors(exc.errors())
            if errors:
                named = event_id if isinstance(event_id, str) else None
                fields = [FieldError(**e) for e in errors]
                rejected.append(Rejected(index=index, event_id=named, errors=fields))
            else:
                valid.append(event)
        return valid, rejected

    async def accept_batch(self, items: list[Any], partial: bool, source: Credential) -> Any:
        valid, rejected = self._check(items)
        if rejected and (not partial or not valid):
            self.metrics.rejected()
            detail = [
                error.model_copy(update={"field": f"events.{r.index}.{error.field}"})
                for r in rejected
                for error in r.errors
            ]
            body = BatchRejected(detail=detail, rejected=rejected)
            return JSONResponse(status_code=422, content=body.model_dump())
        unavailable = await self._publish(valid, source)
        if unavailable is not None:
            return unavailable
        accepted = [Accepted(event_id=e.event_id, revision=e.revision) for e in valid]
        return BatchAccepted(accepted=accepted, rejected=rejected, count=len(accepted))


def event_routes(ingest: Ingest, event_body: Any, examples: dict[str, Any]) -> APIRouter:
    """POST /events and /events/batch; ``event_body`` is the union of this service's types."""

    async def source_key(request: Request, _: Bearer) -> Credential:
        return await ingest.gate.source_for(request.headers, ingest.service)

    router = APIRouter()
    source_of_request = Annotated[Credential, Depends(source_key)]

    @router.post(
        "/events",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=Accepted,
        responses={**error_responses(413, 415, 422), **REFUSALS, 503: {"model": Unavailable}},
        summary="Post one event",
    )
    async def post_event(
        source: source_of_request, event: Annotated[event_body, Body(openapi_examples=examples)]
    ) -> Any:
        return await ingest.accept_one(event, source)

    @router.post(
        "/events/batch",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=BatchAccepted,
        responses={
            **error_responses(413, 415),
            **REFUSALS,
            422: {"model": BatchRejected, "description": "Events rejected, each named."},
            503: {"model": Unavailable},
        },
        summary=f"Post up to {MAX_BATCH} events",
        description="Each item is an event as for POST /events. By default all are published "
        "or none (422 lists every rejected event and why); with `partial=true` the valid ones "
        "are published and the answer lists both.",
    )
    async def post_batch(
        source: source_of_request,
        batch: RawBatch,
        partial: Annotated[bool, Query(description="Publish the valid events only.")] = False,
    ) -> Any:
        return await ingest.accept_batch(batch.events, partial, source)

    return router


def health_routes(publisher: EventPublisher, gate: Gate) -> APIRouter:
    router = APIRouter()

    @router.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="The event log is reachable and credentials can be checked")
    async def readyz(response: Response) -> dict[str, str]:
        problem = None
        if not await publisher.ready():
            problem = "kafka unreachable"
        elif not await gate.ready():
            problem = "credentials unreadable"
        if problem is None:
            return {"status": "ready"}
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
        return {"status": problem}

    return router
