"""The KPI service's HTTP adapter: health, readiness, /metrics and the query API."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import FastAPI, HTTPException, Query, Request, Response, status
from prometheus_client import CollectorRegistry, make_asgi_app
from pydantic import BaseModel

from casetime.ingest import add_error_handlers, error_responses
from kpi.adapters.consumer import event_source
from kpi.adapters.council_file import load_council_config
from kpi.adapters.metrics import KpiCollector
from kpi.adapters.snapshots import QueryRefusedError, SnapshotRefresher
from kpi.adapters.store import CaseStore
from kpi.domain.calendar import CALENDAR_FIRST, CALENDAR_LAST, england_calendar
from kpi.domain.council import Comparators
from kpi.domain.evaluation import AS_AT as AS_AT_PERIOD
from kpi.domain.evaluation import Evaluation
from kpi.domain.kpis import KPIS
from kpi.domain.periods import PeriodKind
from kpi.domain.report import kpi_rows, previous_as_at
from kpi.migrations import upgrade_to_head
from kpi.settings import KpiSettings

log = logging.getLogger(__name__)

AsAt = Annotated[
    date | None,
    Query(
        description="Compute as at this date (default: the live snapshot), within the"
        f" working-day calendar, {CALENDAR_FIRST} to {CALENDAR_LAST}.",
        ge=CALENDAR_FIRST,
        le=CALENDAR_LAST,
    ),
]
QUERY_ERRORS = error_responses(404, 422)
KpiId = Annotated[str | None, Query(description="Only this KPI id, e.g. ASMT-45WD.")]
Team = Annotated[str | None, Query(description="Only this team ('all': the council).")]


class KpiValueOut(BaseModel):
    kpi: str
    title: str
    period: str
    level: str
    team: str | None
    service: str | None
    unit: str
    value: float | None
    numerator: int
    denominator: int
    small_numbers: bool
    target: float | None
    rag: str
    polarity: str
    comparators: Comparators
    previous_value: float | None
    direction: str


class KpiValuesOut(BaseModel):
    council: str
    as_at: date
    values: list[KpiValueOut]


class OpenClockOut(BaseModel):
    kpi: str
    team: str
    child_id: str
    episode_id: str
    due: date
    due_at: datetime | None = None  # hour clocks: the moment they fall due
    state: str
    days_left: int
    working_days_left: int


class OpenClocksOut(BaseModel):
    as_at: date
    counts: list[dict[str, Any]]
    clocks: list[OpenClockOut]


class BreachOut(BaseModel):
    kpi: str
    period: str
    team: str
    child_id: str
    episode_id: str
    counted_on: date
    due: date | None
    reason: str


class BreachesOut(BaseModel):
    as_at: date
    by_reason: dict[str, int]
    breaches: list[BreachOut]


class DataQualityOut(BaseModel):
    as_at: date
    counts: dict[str, int]
    issues: list[dict[str, str]]


def create_app(settings: KpiSettings | None = None) -> FastAPI:
    settings = settings or KpiSettings()
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
    )
    registry = CollectorRegistry()
    registry.register(
        KpiCollector(
            lambda: refresher.snapshot,
            lambda: refresher.refreshed_at,
            consumer.stats,
            team_label=config.label_for,
            refresh_health=lambda: refresher.health,
        )
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            await asyncio.to_thread(upgrade_to_head, settings.state_store_url)
        await consumer.start()
        await refresher.start()
        log.info(
            "KPI service for %s started (%s)",
            config.council,
            "embedded" if settings.embedded else "Kafka and PostgreSQL",
        )
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
    add_error_handlers(app)

    async def evaluation_at(as_at: date | None, request: Request) -> Evaluation:
        if refresher.snapshot is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no snapshot yet")
        if as_at is None:
            return refresher.snapshot
        try:
            return await refresher.evaluate_past(
                as_at, settings.query_budget_seconds, request.is_disconnected
            )
        except QueryRefusedError as exc:
            raise HTTPException(
                status.HTTP_503_SERVICE_UNAVAILABLE,
                f"{exc}; try again shortly",
                headers={"Retry-After": "5"},
            ) from None

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz")
    async def readyz(response: Response) -> dict[str, Any]:
        checks = {
            "database": await store.ping(),
            "consumer": consumer.stats.running,
            "consumer_progressing": not consumer.stats.stalled,
            "snapshot": refresher.snapshot is not None,
            "snapshot_refreshing": refresher.health.healthy,
        }
        if not all(checks.values()):
            response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
        return {"status": "ready" if all(checks.values()) else "not ready", "checks": checks}

    @app.get(
        "/kpis",
        response_model=KpiValuesOut,
        summary="KPI values, rated and compared",
        responses=QUERY_ERRORS,
    )
    async def kpis(
        request: Request,
        as_at: AsAt = None,
        kpi: KpiId = None,
        team: Team = None,
        service: Annotated[str | None, Query(description="Only this service.")] = None,
        period: Annotated[
            str | None,
            Query(description="month, quarter, financial_year_to_date, rolling_12_months, as_at"),
        ] = None,
        level: Annotated[str | None, Query(description="team, service or council")] = None,
    ) -> KpiValuesOut:
        if kpi is not None and kpi not in KPIS:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown KPI {kpi!r}")
        evaluation = await evaluation_at(as_at, request)
        # the previous periods' figures (direction of travel), each within the query's budget
        earlier = {}
        for period_label in (AS_AT_PERIOD, *PeriodKind):
            day = previous_as_at(period_label, evaluation.as_at)
            earlier[day] = await evaluation_at(day, request)
        rows = await asyncio.to_thread(kpi_rows, evaluation, config, earlier.__getitem__)
        values = [
            KpiValueOut(
                kpi=r.kpi,
                title=r.title,
                period=r.period,
                level=r.level,
                team=None if r.level == "service" else r.unit_name,
                service=r.unit_name if r.level == "service" else config.service_of(r.unit_name),
                unit=r.unit,
                value=r.value,
                numerator=r.numerator,
                denominator=r.denominator,
                small_numbers=r.small_numbers,
                target=r.target,
                rag=r.rag.value,
                polarity=r.polarity,
                comparators=r.comparators,
                previous_value=r.previous_value,
                direction=r.direction.value,
            )
            for r in rows
            if (kpi is None or r.kpi == kpi)
            and (period is None or r.period == period)
            and (level is None or r.level == level)
            and (team is None or (r.level != "service" and r.unit_name == team))
            and (service is None or (r.level == "service" and r.unit_name == service))
        ]
        return KpiValuesOut(council=config.council, as_at=evaluation.as_at, values=values)

    @app.get(
        "/open-clocks",
        response_model=OpenClocksOut,
        summary="Work due and overdue",
        responses=QUERY_ERRORS,
    )
    async def open_clocks(
        request: Request,
        as_at: AsAt = None,
        kpi: KpiId = None,
        team: Team = None,
        state: str | None = None,
    ) -> OpenClocksOut:
        evaluation = await evaluation_at(as_at, request)
        chosen = [
            c
            for c in evaluation.open_clocks
            if (kpi is None or c.clock.kpi == kpi)
            and (team is None or c.clock.team == team)
            and (state is None or c.state == state)
        ]
        counts = Counter((c.clock.kpi, c.clock.team, c.state.value) for c in chosen)
        return OpenClocksOut(
            as_at=evaluation.as_at,
            counts=[
                {"kpi": k, "team": t, "state": s, "count": n}
                for (k, t, s), n in sorted(counts.items())
            ],
            clocks=[
                OpenClockOut(
                    kpi=c.clock.kpi,
                    team=c.clock.team,
                    child_id=c.clock.child_id,
                    episode_id=c.clock.episode_id,
                    due=c.clock.due,
                    due_at=c.clock.due_at,
                    state=c.state.value,
                    days_left=c.days_left,
                    working_days_left=c.working_days_left,
                )
                for c in sorted(chosen, key=lambda c: (c.clock.due, c.clock.kpi))
            ],
        )

    @app.get(
        "/breaches",
        response_model=BreachesOut,
        summary="Breaches behind a figure",
        responses=QUERY_ERRORS,
    )
    async def breaches(
        request: Request,
        as_at: AsAt = None,
        kpi: KpiId = None,
        team: Team = None,
        period: str | None = None,
        reason: str | None = None,
    ) -> BreachesOut:
        evaluation = await evaluation_at(as_at, request)
        chosen = [
            b
            for b in evaluation.breaches
            if (kpi is None or b.kpi == kpi)
            and (team in (None, "all") or b.team == team)
            and (period is None or b.period == period)
            and (reason is None or b.reason == reason)
        ]
        return BreachesOut(
            as_at=evaluation.as_at,
            by_reason=dict(sorted(Counter(b.reason for b in chosen).items())),
            breaches=[
                BreachOut(
                    kpi=b.kpi,
                    period=b.period,
                    team=b.team,
                    child_id=b.child_id,
                    episode_id=b.episode_id,
                    counted_on=b.counted_on,
                    due=b.due,
                    reason=b.reason,
                )
                for b in chosen
            ],
        )

    @app.get(
        "/data-quality",
        response_model=DataQualityOut,
        summary="Data-quality issues",
        responses=QUERY_ERRORS,
    )
    async def data_quality(
        request: Request, as_at: AsAt = None, check: str | None = None
    ) -> DataQualityOut:
        evaluation = await evaluation_at(as_at, request)
        chosen = [i for i in evaluation.issues if check is None or i.check == check]
        return DataQualityOut(
            as_at=evaluation.as_at,
            counts=dict(sorted(Counter(i.check.value for i in chosen).items())),
            issues=[
                {
                    "check": i.check.value,
                    "team": i.team,
                    "child_id": i.child_id,
                    "episode_id": i.episode_id,
                    "detail": i.detail,
                }
                for i in chosen
            ],
        )

    @app.post("/kpis/refresh", summary="Recompute the live snapshot now")
    async def refresh() -> dict[str, Any]:
        evaluation = await refresher.refresh()
        return {"as_at": evaluation.as_at, "seconds": refresher.refresh_seconds}

    return app
