"""GET /breaches: breached clocks by exception reason, and the list behind them."""

from __future__ import annotations

from collections import Counter
from datetime import date

from fastapi import APIRouter, Request
from pydantic import BaseModel

from kpi.api.deps import QUERY_ERRORS, AsAt, KpiId, ListReader, Service, Team, audit_read
from kpi.domain.evaluation import Breach

router = APIRouter()


class BreachesOut(BaseModel):
    as_at: date
    by_reason: dict[str, int]
    breaches: list[Breach]  # the domain's own records, as they are


@router.get(
    "/breaches",
    response_model=BreachesOut,
    summary="Breaches behind a figure",
    responses=QUERY_ERRORS,
)
async def breaches(
    service: Service,
    request: Request,
    reader: ListReader,
    as_at: AsAt = None,
    kpi: KpiId = None,
    team: Team = None,
    period: str | None = None,
    reason: str | None = None,
) -> BreachesOut:
    evaluation = await service.evaluation_at(as_at, request, lists=True)
    chosen = [
        b
        for b in evaluation.breaches
        if (kpi is None or b.kpi == kpi)
        and (team in (None, "all") or b.team == team)
        and (period is None or b.period == period)
        and (reason is None or b.reason == reason)
        and reader.sees_team(b.team)
    ]
    await audit_read(service, reader, request, len(chosen), {b.team for b in chosen})
    return BreachesOut(
        as_at=evaluation.as_at,
        by_reason=dict(sorted(Counter(b.reason for b in chosen).items())),
        breaches=chosen,
    )
