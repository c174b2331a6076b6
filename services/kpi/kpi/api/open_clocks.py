"""GET /open-clocks: work due and overdue, counted and listed (catalogue section 4)."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel

from kpi.api.deps import QUERY_ERRORS, AsAt, KpiId, ListReader, Service, Team, audit_read
from kpi.domain.evaluation import OpenClockStatus

router = APIRouter()


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

    @classmethod
    def of(cls, status: OpenClockStatus) -> OpenClockOut:
        clock = status.clock
        return cls(
            kpi=clock.kpi,
            team=clock.team,
            child_id=clock.child_id,
            episode_id=clock.episode_id,
            due=clock.due,
            due_at=clock.due_at,
            state=status.state.value,
            days_left=status.days_left,
            working_days_left=status.working_days_left,
        )


def _by_urgency(status: OpenClockStatus) -> tuple[date, str]:
    return (status.clock.due, status.clock.kpi)


class OpenClocksOut(BaseModel):
    as_at: date
    counts: list[dict[str, Any]]
    clocks: list[OpenClockOut]


@router.get(
    "/open-clocks",
    response_model=OpenClocksOut,
    summary="Work due and overdue",
    responses=QUERY_ERRORS,
)
async def open_clocks(
    service: Service,
    request: Request,
    reader: ListReader,
    as_at: AsAt = None,
    kpi: KpiId = None,
    team: Team = None,
    state: str | None = None,
) -> OpenClocksOut:
    evaluation = await service.evaluation_at(as_at, request, lists=True)
    chosen = [
        c
        for c in evaluation.open_clocks
        if (kpi is None or c.clock.kpi == kpi)
        and (team is None or c.clock.team == team)
        and (state is None or c.state == state)
        and reader.sees_team(c.clock.team)
    ]
    await audit_read(service, reader, request, len(chosen), {c.clock.team for c in chosen})
    counts = Counter((c.clock.kpi, c.clock.team, c.state.value) for c in chosen)
    return OpenClocksOut(
        as_at=evaluation.as_at,
        counts=[
            {"kpi": k, "team": t, "state": s, "count": n} for (k, t, s), n in sorted(counts.items())
        ],
        clocks=[
            OpenClockOut.of(c) for c in sorted(chosen, key=lambda c: (c.clock.due, c.clock.kpi))
        ],
    )
