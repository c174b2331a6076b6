"""Liveness and readiness."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status

from kpi.api.deps import Service

router = APIRouter()


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The store answers, the consumer runs, the figures move")
async def readyz(service: Service, response: Response) -> dict[str, Any]:
    stats = service.consumer.stats
    checks = {
        "database": await service.store.ping(),
        "consumer": stats.running,
        "consumer_progressing": not stats.stalled,
        "snapshot": service.refresher.snapshot is not None,
        "snapshot_refreshing": service.refresher.health.healthy,
    }
    if not all(checks.values()):
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return {"status": "ready" if all(checks.values()) else "not ready", "checks": checks}
