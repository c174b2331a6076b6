"""The ingest HTTP adapter shared by the three ingest services.

Routes validate, then publish; nothing is published unless every event in the request is valid,
and 202 means the event log has acknowledged every event.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from prometheus_client import make_asgi_app
from pydantic import TypeAdapter

from casetime.access.gate import Gate, ReadersOnly
from casetime.errors import add_error_handlers
from casetime.eventlog import EmbeddedPublisher
from casetime.events import CONTRACT_VERSION, VERSIONED_MODELS, event_union
from casetime.examples import example_event, example_of_version
from casetime.ingest.guard import GuardedBodies
from casetime.ingest.routes import Ingest, IngestMetrics, event_routes, health_routes
from casetime.publishing import EventPublisher, KafkaPublisher
from casetime.settings import IngestSettings
from casetime.topics import accepted_types, topic_for

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def _examples(types: tuple[str, ...]) -> dict[str, Any]:
    """One OpenAPI example per event type and later schema version this service accepts."""
    examples = {t: {"summary": t.replace("_", " "), "value": example_event(t)} for t in types}
    return examples | {
        f"{t} v{v}": {"summary": f"{t.replace('_', ' ')} (v{v})", "value": example_of_version(t, v)}
        for (t, v) in VERSIONED_MODELS
        if v > 1 and t in types
    }


def create_app(
    service: str,
    settings: IngestSettings | None = None,
    publisher: EventPublisher | None = None,
    gate: Gate | None = None,
) -> FastAPI:
    settings = settings or IngestSettings()
    the_gate = gate or Gate.of(settings)
    topic = topic_for(service, settings.topic_prefix)
    if publisher is None:
        publisher = (
            EmbeddedPublisher(settings.event_log_path)
            if settings.embedded
            else KafkaPublisher(settings, [topic])
        )
    the_publisher: EventPublisher = publisher
    metrics = IngestMetrics(service)
    # Built at run time from the ownership table, so each service's OpenAPI lists its own types.
    types = accepted_types(service)
    event_body: Any = event_union(types)
    ingest = Ingest(
        service, topic, settings, the_publisher, metrics, TypeAdapter(event_body), the_gate
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await the_publisher.start()
        log.info("%s ingest publishing to %s", service, topic)
        yield
        await the_publisher.stop()
        await the_gate.close()
        log.info("%s ingest stopped", service)

    app = FastAPI(
        title=f"casetime {service} ingest",
        version=f"{CONTRACT_VERSION}.0",
        summary=f"Case systems POST {service} events here; they are validated and published "
        f"to the Kafka topic {topic}.",
        lifespan=lifespan,
    )
    app.mount("/metrics", ReadersOnly(make_asgi_app(registry=metrics.registry), the_gate))
    add_error_handlers(app, metrics.rejected)
    app.add_middleware(GuardedBodies, max_bytes=settings.max_body_bytes, on_reject=metrics.rejected)
    app.include_router(event_routes(ingest, event_body, _examples(types)))
    app.include_router(health_routes(the_publisher, the_gate))
    return app
