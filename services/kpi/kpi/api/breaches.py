"""GET /breaches: breached clocks by exception reason, and the list behind them."""

from __future__ import annotations

from collections import Counter
from datetime import date

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict

from kpi.api.deps import QUERY_ERRORS, AsAt, KpiId, Service, Team

router = APIRouter()


class BreachOut(BaseModel):
    """Read straight from the domain's ``Breach``."""

    model_config = ConfigDict(from_attributes=True)
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


@router.get(
    "/breaches",
    response_model=BreachesOut,
    summary="Breaches behind a figure",
    responses=QUERY_ERRORS,
)
async def breaches(
    service: Service,
    request: Request,
    as_at: AsAt = None,
    kpi: KpiId = None,
    team: Team = None,
    period: str | None = None,
    reason: str | None = None,
) -> BreachesOut:
    evaluation = await service.evaluation_at(as_at, request)
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
        breaches=[BreachOut.model_validate(b) for b in chosen],
    )
