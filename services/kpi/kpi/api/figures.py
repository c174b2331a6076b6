"""GET /kpis: every figure, rated and compared; POST /kpis/refresh."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel

from casetime.access.gate import REFUSALS
from kpi.api.deps import QUERY_ERRORS, AsAt, KpiId, Reader, Service, Team
from kpi.domain.council import Comparators, CouncilConfig
from kpi.domain.evaluation import Evaluation
from kpi.domain.kpis import KPIS
from kpi.domain.report import KpiRow, comparison_dates, kpi_rows

router = APIRouter()


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

    @classmethod
    def of(cls, row: KpiRow, config: CouncilConfig) -> KpiValueOut:
        by_service = row.level == "service"
        return cls(
            **{name: getattr(row, name) for name in _SAME_FIELDS},
            team=None if by_service else row.unit_name,
            service=row.unit_name if by_service else config.service_of(row.unit_name),
            rag=row.rag.value,
            direction=row.direction.value,
        )


_SAME_FIELDS = set(KpiValueOut.model_fields) - {"team", "service", "rag", "direction"}


class KpiValuesOut(BaseModel):
    council: str
    as_at: date
    values: list[KpiValueOut]


def _wanted(
    row: KpiRow,
    kpi: str | None,
    period: str | None,
    level: str | None,
    team: str | None,
    service: str | None,
) -> bool:
    by_service = row.level == "service"
    return (
        (kpi is None or row.kpi == kpi)
        and (period is None or row.period == period)
        and (level is None or row.level == level)
        and (team is None or (not by_service and row.unit_name == team))
        and (service is None or (by_service and row.unit_name == service))
    )


async def _previous_periods(
    service: Service, evaluation: Evaluation, request: Request
) -> dict[date, Evaluation]:
    """The evaluations the direction of travel compares with, each within the query's budget."""
    return {
        day: await service.evaluation_at(day, request)
        for day in sorted(comparison_dates(evaluation.as_at))
    }


@router.get(
    "/kpis",
    response_model=KpiValuesOut,
    summary="KPI values, rated and compared",
    responses=QUERY_ERRORS,
)
async def kpis(
    service: Service,
    request: Request,
    _: Reader,
    as_at: AsAt = None,
    kpi: KpiId = None,
    team: Team = None,
    of_service: Annotated[
        str | None, Query(alias="service", description="Only this service.")
    ] = None,
    period: Annotated[
        str | None,
        Query(description="month, quarter, financial_year_to_date, rolling_12_months, as_at"),
    ] = None,
    level: Annotated[str | None, Query(description="team, service or council")] = None,
) -> KpiValuesOut:
    if kpi is not None and kpi not in KPIS:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"unknown KPI {kpi!r}")
    evaluation = await service.evaluation_at(as_at, request)
    earlier = await _previous_periods(service, evaluation, request)
    rows = await asyncio.to_thread(kpi_rows, evaluation, service.config, earlier.__getitem__)
    values = [
        KpiValueOut.of(r, service.config)
        for r in rows
        if _wanted(r, kpi, period, level, team, of_service)
    ]
    return KpiValuesOut(council=service.config.council, as_at=evaluation.as_at, values=values)


@router.post("/kpis/refresh", summary="Recompute the live snapshot now", responses=REFUSALS)
async def refresh(service: Service, _: Reader) -> dict[str, Any]:
    evaluation = await service.refresher.refresh()
    return {"as_at": evaluation.as_at, "seconds": service.refresher.refresh_seconds}
