"""The ingest HTTP adapter shared by the three ingest services.

Routes validate, then publish; nothing is published unless every event in the request is valid,
and 202 means the broker has acknowledged every event.
"""

import json
import logging
import re
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Body, FastAPI, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CollectorRegistry, Counter, make_asgi_app
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from casetime.eventlog import EmbeddedPublisher
from casetime.events import (
    CONTRACT_VERSION,
    VERSIONED_MODELS,
    EventEnvelope,
    event_union,
    local_date,
)
from casetime.examples import example_event, example_of_version
from casetime.publishing import EventPublisher, KafkaPublisher, PublishUnavailableError
from casetime.settings import IngestSettings
from casetime.topics import accepted_types, topic_for

log = logging.getLogger(__name__)

MAX_BATCH = 500
_UNION_MEMBER_NAMES = frozenset(f"{t} v{v}" for t, v in VERSIONED_MODELS) | {"datetime", "date"}
RETRY_AFTER_SECONDS = "5"


class RawBatch(BaseModel):
    """Events are validated one by one, so that the answer can say which were rejected."""

    model_config = ConfigDict(extra="forbid")
    events: list[Any] = Field(min_length=1, max_length=MAX_BATCH)


class FieldError(BaseModel):
    """One thing wrong with a request: the field (a dotted path, or ``body``), why, and the
    kind of error."""

    field: str
    reason: str
    type: str


class ErrorAnswer(BaseModel):
    """Every 4xx answer of every casetime service."""

    detail: list[FieldError]


def error_answer(status_code: int, field: str, reason: str, kind: str) -> JSONResponse:
    body = ErrorAnswer(detail=[FieldError(field=field, reason=reason, type=kind)])
    return JSONResponse(status_code=status_code, content=body.model_dump())


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers an operation gives."""
    why = {
        404: "Not found.",
        413: "The body is larger than the service accepts.",
        415: "The body is not JSON (Content-Type: application/json).",
        422: "Invalid input: each bad field named, with the reason.",
        429: "Too many requests.",
    }
    return {code: {"model": ErrorAnswer, "description": why[code]} for code in codes}


def add_error_handlers(app: FastAPI, rejected: Callable[[], None] = lambda: None) -> None:
    """Validation errors and HTTP errors in the one error model (``ErrorAnswer``)."""

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        rejected()
        return JSONResponse(
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
            content={"detail": describe_errors(exc.errors())},
        )

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code >= 500:
            return JSONResponse(
                status_code=exc.status_code,
                content={"detail": str(exc.detail)},
                headers=exc.headers,
            )
        response = error_answer(
            exc.status_code, "request", str(exc.detail), f"http_{exc.status_code}"
        )
        for name, value in (exc.headers or {}).items():
            response.headers[name] = value
        return response


Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class GuardedBodies:
    """ASGI middleware in front of the POST routes: the body must be JSON (415), no larger than
    ``max_bytes`` (413, read no further), well-formed UTF-8 JSON (422) and an object (422), each
    answered in the error model, before FastAPI parses anything."""

    def __init__(self, app: ASGIApp, max_bytes: int, on_reject: Callable[[], None]) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.on_reject = on_reject

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        refusal = self._refuse_headers(headers)
        body = b""
        if refusal is None:
            body, refusal = await self._read(receive)
        if refusal is None:
            refusal = self._refuse_body(body)
        if refusal is not None:
            self.on_reject()
            await refusal(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def _refuse_headers(self, headers: dict[str, str]) -> JSONResponse | None:
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return error_answer(
                status.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
                "content-type",
                "the body must be JSON, sent with Content-Type: application/json",
                "unsupported_media_type",
            )
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) > self.max_bytes:
            return self._too_large()
        return None

    def _too_large(self) -> JSONResponse:
        return error_answer(
            status.HTTP_413_CONTENT_TOO_LARGE,
            "body",
            f"the body is larger than {self.max_bytes} bytes; send fewer events per batch",
            "too_large",
        )

    async def _read(self, receive: Receive) -> tuple[bytes, JSONResponse | None]:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return b"", None
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return b"", self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), None

    @staticmethod
    def _refuse_body(body: bytes) -> JSONResponse | None:
        try:
            parsed = json.loads(body.decode("utf-8"))
        except UnicodeDecodeError:
            return error_answer(422, "body", "the body is not UTF-8 text", "json_invalid")
        except json.JSONDecodeError as exc:
            reason = (
                f"the body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
            )
            return error_answer(422, "body", reason, "json_invalid")
        except RecursionError:
            return error_answer(422, "body", "the body is nested too deeply", "json_invalid")
        if not isinstance(parsed, dict):
            kind = "null" if parsed is None else type(parsed).__name__
            reason = (
                f'the body must be a JSON object (an event, or {{"events": [...]}}), not {kind}'
            )
            return error_answer(422, "body", reason, "model_type")
        return None


def implausible(
    event: EventEnvelope, settings: IngestSettings, now: datetime
) -> list[dict[str, Any]]:
    """The contract's dates checked against today: nothing before the council's earliest date,
    nothing later than the tolerance allows ahead of now; and the council's own ids refused."""
    errors: list[dict[str, Any]] = []
    latest = now + timedelta(hours=settings.future_tolerance_hours)
    for field, value in (("occurred_at", event.occurred_at), ("recorded_at", event.recorded_at)):
        day = local_date(value)
        ahead = value > latest if isinstance(value, datetime) else day > local_date(latest)
        if day < settings.earliest_event_date or ahead:
            errors.append(
                {
                    "field": field,
                    "reason": f"must be from {settings.earliest_event_date} to"
                    f" {settings.future_tolerance_hours:g} hours from now",
                    "type": "implausible_date",
                }
            )
    if settings.refused_id_pattern:
        pattern = re.compile(settings.refused_id_pattern)
        ids = (("child_id", event.child_id), ("worker_id", event.worker_id))
        for name, held in ids:
            if held is not None and pattern.fullmatch(held):
                errors.append(
                    {
                        "field": name,
                        "reason": "must be a pseudonymous id: this matches the case system's own"
                        " ids (CASETIME_REFUSED_ID_PATTERN)",
                        "type": "not_pseudonymous",
                    }
                )
    return errors


class Rejected(BaseModel):
    index: int
    event_id: str | None
    errors: list[FieldError]


class Accepted(BaseModel):
    event_id: str
    revision: int
    status: str = "accepted"


class BatchAccepted(BaseModel):
    accepted: list[Accepted]
    rejected: list[Rejected] = []
    count: int


class BatchRejected(BaseModel):
    """A batch refused whole: every error in ``detail`` (as in ``ErrorAnswer``), and, when the
    batch could be read, which events were accepted and which rejected."""

    detail: list[FieldError]
    accepted: list[Accepted] = []
    rejected: list[Rejected] = []


class Unavailable(BaseModel):
    detail: str


def describe_errors(errors: Any) -> list[dict[str, Any]]:
    """Name each bad field as a dotted path (e.g. ``events.3.payload.outcome``) with the reason.

    A value that matched no member of a union (a date or a date-time) is one error, not one per
    member. The offending value is not echoed back: it may be personal data.
    """
    described: dict[str, dict[str, Any]] = {}
    for error in errors:
        loc = [str(part) for part in error["loc"] if part not in ("body", "query")]
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
    settings: IngestSettings | None = None,
    publisher: EventPublisher | None = None,
) -> FastAPI:
    settings = settings or IngestSettings()
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
    add_error_handlers(app, lambda: requests_rejected_total.labels(service).inc())
    app.add_middleware(
        GuardedBodies,
        max_bytes=settings.max_body_bytes,
        on_reject=lambda: requests_rejected_total.labels(service).inc(),
    )

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

    @app.post(
        "/events",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=Accepted,
        responses={**error_responses(413, 415, 422), 503: {"model": Unavailable}},
        summary="Post one event",
    )
    async def post_event(
        event: Annotated[event_body, Body(openapi_examples=examples)],
    ) -> Any:
        errors = implausible(event, settings, datetime.now(UTC))
        if errors:
            requests_rejected_total.labels(service).inc()
            return JSONResponse(status_code=422, content={"detail": errors})
        try:
            await publish([event])
        except PublishUnavailableError:
            return unavailable()
        return Accepted(event_id=event.event_id, revision=event.revision)

    @app.post(
        "/events/batch",
        status_code=status.HTTP_202_ACCEPTED,
        response_model=BatchAccepted,
        responses={
            **error_responses(413, 415),
            422: {"model": BatchRejected, "description": "Events rejected, each named."},
            503: {"model": Unavailable},
        },
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
        now = datetime.now(UTC)
        for index, item in enumerate(batch.events):
            event_id = item.get("event_id") if isinstance(item, dict) else None
            try:
                event = event_adapter.validate_python(item)
                errors = implausible(event, settings, now)
            except ValidationError as exc:
                errors = describe_errors(exc.errors())
            if errors:
                rejected.append(
                    Rejected(
                        index=index,
                        event_id=event_id if isinstance(event_id, str) else None,
                        errors=[FieldError(**e) for e in errors],
                    )
                )
            else:
                valid.append(event)
        if rejected and (not partial or not valid):
            requests_rejected_total.labels(service).inc()
            detail = [
                FieldError(
                    field=f"events.{r.index}.{error.field}", reason=error.reason, type=error.type
                )
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
