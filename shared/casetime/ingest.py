"""The ingest HTTP adapter shared by the three ingest services.

Routes validate, then publish; nothing is published unless every event in the request is valid,
and 202 means the broker has acknowledged every event.
"""

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Body, FastAPI, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, make_asgi_app
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from casetime.eventlog import EmbeddedPublisher
from casetime.events import CONTRACT_VERSION, VERSIONED_MODELS, EventEnvelope, event_union
from casetime.examples import example_event, example_of_version
from casetime.publishing import EventPublisher, KafkaPublisher, PublishUnavailableError
from casetime.settings import ServiceSettings
from casetime.topics import accepted_types, topic_for

log = logging.getLogger(__name__)

MAX_BATCH = 500
_UNION_MEMBER_NAMES = frozenset(f"{t} v{v}" for t, v in VERSIONED_MODELS) | {"datetime", "date"}
RETRY_AFTER_SECONDS = "5"


class RawBatch(BaseModel):
    """Events are validated one by one, so that the answer can say which were rejected."""

    model_config = ConfigDict(extra="forbid")
    events: list[Any] = Field(min_length=1, max_length=MAX_BATCH)


class Rejected(BaseModel):
    index: int
    event_id: str | None
    errors: list[dict[str, Any]]


class Accepted(BaseModel):
    event_id: str
    revision: int
    status: str = "accepted"


class BatchAccepted(BaseModel):
    accepted: list[Accepted]
    rejected: list[Rejected] = []
    count: int


class BatchRejected(BaseModel):
    detail: list[dict[str, Any]]
    accepted: list[Accepted]
    rejected: list[Rejected]


class Unavailable(BaseModel):
    detail: str


def describe_errors(errors: Any) -> list[dict[str, Any]]:
    """Name each bad field as a dotted path (e.g. ``events.3.payload.outcome``) with the reason.

    A value that matched no member of a union (a date or a date-time) is one error, not one per
    member. The offending value is not echoed back: it may be personal data.
    """
    described: dict[str, dict[str, Any]] = {}
    for error in errors:
        loc = [str(part) for part in error["loc"] if part != "body"]
        if error["type"] in ("union_tag_invalid", "union_tag_not_found", "unknown_event_type"):
            loc.append("event_type")
        # pydantic names the union member it tried; the sender's field names don't have it
        loc = [part for part in loc if part not in _UNION_MEMBER_NAMES]
        field = ".".join(loc) or "body"
        if field in described:
            described[field]["reason"] += f"; or {error['msg'][0].lower()}{error['msg'][1:]}"
        else:
            described[field] = {"field": field, "reason": error["msg"], "type": error["type"]}
    return list(described.values())


def create_app(
    service: str,
    settings: ServiceSettings | None = None,
    publisher: EventPublisher | None = None,
) -> FastAPI:
    settings = settings or ServiceSettings()
    topic = topic_for(service, settings.topic_prefix)
    types = accepted_types(service)
    if publisher is None:
        publisher = (
            EmbeddedPublisher(settings.event_log_path)
            if settings.embedded
            else KafkaPublisher(settings, [topic])
        )
    the_publisher: EventPublisher = publisher
    registry = CollectorRegistry()
    events_total = Counter(
        "casetime_ingest_events_total",
        "Events received, by outcome (accepted, unavailable).",
        ["service", "outcome"],
        registry=registry,
    )
    requests_rejected_total = Counter(
        "casetime_ingest_requests_rejected_total",
        "Requests refused as invalid (422).",
        ["service"],
        registry=registry,
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await the_publisher.start()
        log.info("%s ingest publishing to %s", service, topic)
        yield
        await the_publisher.stop()
        log.info("%s ingest stopped", service)

    app = FastAPI(
        title=f"casetime {service} ingest",
        version=f"{CONTRACT_VERSION}.0",
        summary=f"Case systems POST {service} events here; they are validated and published "
        f"to the Kafka topic {topic}.",
        lifespan=lifespan,
    )
    app.mount("/metrics", make_asgi_app(registry=registry))

    # Built at run time from the ownership table, so each service's OpenAPI lists its own types.
    event_body: Any = event_union(types)
    examples = {t: {"summary": t.replace("_", " "), "value": example_event(t)} for t in types}
    examples |= {
        f"{t} v{v}": {"summary": f"{t.replace('_', ' ')} (v{v})", "value": example_of_version(t, v)}
        for (t, v) in VERSIONED_MODELS
        if v > 1 and t in types
    }
    event_adapter: TypeAdapter[EventEnvelope] = TypeAdapter(event_body)

    async def publish(events: list[EventEnvelope]) -> None:
        try:
            await the_publisher.publish(topic, events)
        except PublishUnavailableError as exc:
            events_total.labels(service, "unavailable").inc(len(events))
            log.warning("publish failed, answering 503: %s", exc)
            raise
        events_total.labels(service, "accepted").inc(len(events))

    def unavailable() -> JSONResponse:
        return JSONResponse(
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
            content={"detail": "event log unavailable; nothing was accepted, retry later"},
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )

    @app.exception_handler(RequestValidationError)
    async def count_rejections(request: Request, exc: RequestValidationError) -> JSONResponse:
        requests_rejected_total.labels(service).inc()
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            content={"detail": describe_errors(exc.errors())},
        )

    @app.post(
        "/events",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=Accepted,
        responses={503: {"model": Unavailable}},
        summary="Post one event",
    )
    async def post_event(
        event: Annotated[event_body, Body(openapi_examples=examples)],
    ) -> Any:
        try:
            await publish([event])
        except PublishUnavailableError:
            return unavailable()
        return Accepted(event_id=event.event_id, revision=event.revision)

    @app.post(
        "/events/batch",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=BatchAccepted,
        responses={422: {"model": BatchRejected}, 503: {"model": Unavailable}},
        summary=f"Post up to {MAX_BATCH} events",
        description="Each item is an event as for POST /events. By default all are published "
        "or none (422 lists every rejected event and why); with `partial=true` the valid ones "
        "are published and the answer lists both.",
    )
    async def post_batch(
        batch: RawBatch,
        partial: Annotated[bool, Query(description="Publish the valid events only.")] = False,
    ) -> Any:
        valid: list[EventEnvelope] = []
        rejected: list[Rejected] = []
        for index, item in enumerate(batch.events):
            try:
                valid.append(event_adapter.validate_python(item))
            except ValidationError as exc:
                event_id = item.get("event_id") if isinstance(item, dict) else None
                rejected.append(
                    Rejected(
                        index=index,
                        event_id=event_id if isinstance(event_id, str) else None,
                        errors=describe_errors(exc.errors()),
                    )
                )
        if rejected and (not partial or not valid):
            requests_rejected_total.labels(service).inc()
            detail = [
                {**error, "field": f"events.{r.index}.{error['field']}"}
                for r in rejected
                for error in r.errors
            ]
            body = BatchRejected(detail=detail, accepted=[], rejected=rejected)
            return JSONResponse(status_code=422, content=body.model_dump())
        try:
            await publish(valid)
        except PublishUnavailableError:
            return unavailable()
        accepted = [Accepted(event_id=e.event_id, revision=e.revision) for e in valid]
        return BatchAccepted(accepted=accepted, rejected=rejected, count=len(accepted))

    @app.get("/healthz", summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", summary="Kafka is reachable")
    async def readyz(response: Response) -> dict[str, str]:
        if await the_publisher.ready():
            return {"status": "ready"}
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
        return {"status": "kafka unreachable"}

    return app
