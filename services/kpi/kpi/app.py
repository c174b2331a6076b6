"""The KPI service's wiring: the store, the event source, the snapshot, /metrics and the
routers of ``kpi.api``."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, make_asgi_app

from casetime.access.gate import Gate, ReadersOnly
from casetime.errors import add_error_handlers
from kpi.adapters.consumer import event_source
from kpi.adapters.council_file import load_council_config
from kpi.adapters.metrics import KpiCollector
from kpi.adapters.snapshots import SnapshotRefresher
from kpi.adapters.store import CaseStore
from kpi.api import (
    board_pack,
    breaches,
    data_quality,
    figures,
    health,
    open_clocks,
    team_page,
)
from kpi.api.deps import Runtime
from kpi.domain.calendar import england_calendar
from kpi.migrations import upgrade_to_head
from kpi.scheduled_packs import ScheduledPacks
from kpi.settings import KpiSettings

log = logging.getLogger(__name__)


def _runtime(settings: KpiSettings) -> Runtime:
    # A bad configuration file stops the service here, naming the line.
    config = load_council_config(settings.council_config)
    store = CaseStore(settings.state_store_url)
    consumer = event_source(settings, store)
    refresher = SnapshotRefresher(
        store,
        config,
        england_calendar(config.working_day_convention),
        settings.kpi_refresh_seconds,
        settings.kpi_as_at,
        backlog=lambda: consumer.stats.total_lag,
        fact_workers=settings.fact_workers,
    )
    consumer.stats.on_applied = refresher.wake.set
    return Runtime(settings, config, store, consumer, refresher, Gate.of(settings))


def _metrics(runtime: Runtime) -> CollectorRegistry:
    registry = CollectorRegistry()
    refresher = runtime.refresher
    registry.register(
        KpiCollector(
            lambda: refresher.snapshot,
            lambda: refresher.refreshed_at,
            runtime.consumer.stats,
            config=runtime.config,
            refresh_health=lambda: refresher.health,
            pending_units=lambda: refresher.pending_units,
        )
    )
    return registry


def _scheduled_packs(runtime: Runtime) -> ScheduledPacks | None:
    settings = runtime.settings
    if settings.pack_folder is None:
        return None
    return ScheduledPacks(
        runtime.board(),
        settings.pack_folder,
        settings.freeze_day,
        settings.freeze_time,
        settings.freeze_check_seconds,
    )


def create_app(settings: KpiSettings | None = None) -> FastAPI:
    settings = settings or KpiSettings()
    runtime = _runtime(settings)
    packs = _scheduled_packs(runtime)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await asyncio.to_thread(upgrade_to_head, settings.state_store_url)
        await runtime.consumer.start()
        await runtime.refresher.start()
        if packs is not None:
            await packs.start()
        mode = "embedded" if settings.embedded else "Kafka and PostgreSQL"
        log.info("KPI service for %s started (%s)", runtime.config.council, mode)
        yield
        if packs is not None:
            await packs.stop()
        await runtime.consumer.stop()
        await runtime.refresher.stop()
        await runtime.store.dispose()
        await runtime.gate.close()
        log.info("KPI service stopped")

    app = FastAPI(
        title="casetime KPI service",
        summary="Timeliness KPIs computed on event time from every case event.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.mount("/metrics", ReadersOnly(make_asgi_app(registry=_metrics(runtime)), runtime.gate))
    add_error_handlers(app)
    for module in (health, figures, open_clocks, breaches, data_quality, board_pack, team_page):
        app.include_router(module.router)
    return app
