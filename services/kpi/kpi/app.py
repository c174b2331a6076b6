"""The KPI service's HTTP adapter: health, readiness, /metrics and the KPI query."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Response, status
from prometheus_client import CollectorRegistry, make_asgi_app
from pydantic import BaseModel

from kpi.adapters.consumer import KpiConsumer
from kpi.adapters.metrics import KpiCollector
from kpi.adapters.snapshots import SnapshotRefresher
from kpi.adapters.store import CaseStore
from kpi.domain.calendar import england_calendar
from kpi.domain.snapshot import KPI_TITLES, KpiSnapshot
from kpi.migrations import upgrade_to_head
from kpi.settings import KpiSettings

log = logging.getLogger(__name__)


class KpiValueOut(BaseModel):
    kpi: str
    title: str
    period: str
    team: str
    numerator: int
    denominator: int
    ratio: float | None


class KpiSnapshotOut(BaseModel):
    as_at: date
    values: list[KpiValueOut]


def _snapshot_out(snapshot: KpiSnapshot) -> KpiSnapshotOut:
    return KpiSnapshotOut(
        as_at=snapshot.as_at,
        values=[
            KpiValueOut(
                kpi=v.kpi,
                title=KPI_TITLES[v.kpi],
                period=v.period.value,
                team=v.team,
                numerator=v.tally.numerator,
                denominator=v.tally.denominator,
                ratio=v.tally.ratio,
            )
            for v in snapshot.values
        ],
    )


def create_app(settings: KpiSettings | None = None) -> FastAPI:
    settings = settings or KpiSettings()
    store = CaseStore(settings.database_url)
    consumer = KpiConsumer(settings, store)
    refresher = SnapshotRefresher(
        store,
        england_calendar(settings.working_day_convention),
        settings.kpi_refresh_seconds,
        settings.kpi_as_at,
    )
    registry = CollectorRegistry()
    registry.register(
        KpiCollector(lambda: refresher.snapshot, lambda: refresher.refreshed_at, consumer.stats)
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await asyncio.to_thread(upgrade_to_head, settings.database_url)
        await consumer.start()
        await refresher.start()
        yield
        await consumer.stop()
        await refresher.stop()
        await store.dispose()
        log.info("KPI service stopped")

    app = FastAPI(
        title="casetime KPI service",
        summary="Timeliness KPIs computed on event time from every case event.",
        lifespan=lifespan,
    )
    app.mount("/metrics", make_asgi_app(registry=registry))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(response: Response) -> dict[str, Any]:
        checks = {
            "database": await store.ping(),
            "consumer": consumer.stats.running,
            "snapshot": refresher.snapshot is not None,
        }
        if not all(checks.values()):
            response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return {"status": "ready" if all(checks.values()) else "not ready", "checks": checks}

    @app.get("/kpis", response_model=KpiSnapshotOut)
    async def kpis(
        as_at: Annotated[
            date | None, Query(description="Compute as at this date (default: the live snapshot).")
        ] = None,
        kpi: Annotated[str | None, Query(description="Only this KPI id, e.g. ASMT-45WD.")] = None,
        team: Annotated[str | None, Query(description="Only this team ('all': council).")] = None,
        period: Annotated[str | None, Query(description="Only this period.")] = None,
    ) -> KpiSnapshotOut:
        if as_at is None:
            snapshot = refresher.snapshot
            if snapshot is None:
                raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no snapshot yet")
        else:
            snapshot = await refresher.compute(as_at)
        if kpi is not None and kpi not in KPI_TITLES:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown KPI {kpi!r}")
        out = _snapshot_out(snapshot)
        out.values = [
            v
            for v in out.values
            if (kpi is None or v.kpi == kpi)
            and (team is None or v.team == team)
            and (period is None or v.period == period)
        ]
        return out

    @app.post("/kpis/refresh", response_model=KpiSnapshotOut)
    async def refresh() -> KpiSnapshotOut:
        """Recompute the live snapshot now (for operators and tests)."""
        return _snapshot_out(await refresher.refresh())

    return app
