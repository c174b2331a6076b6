"""GET /data-quality: the catalogue's section 9 checks, counted and listed."""

from __future__ import annotations

from collections import Counter
from datetime import date

from fastapi import APIRouter, Request
from pydantic import BaseModel

from kpi.api.deps import QUERY_ERRORS, AsAt, ListReader, Service, audit_read
from kpi.domain.data_quality import Issue

router = APIRouter()


class DataQualityOut(BaseModel):
    as_at: date
    counts: dict[str, int]
    issues: list[Issue]  # the domain's own records, as they are


@router.get(
    "/data-quality",
    response_model=DataQualityOut,
    summary="Data-quality issues",
    responses=QUERY_ERRORS,
)
async def data_quality(
    service: Service,
    request: Request,
    reader: ListReader,
    as_at: AsAt = None,
    check: str | None = None,
) -> DataQualityOut:
    evaluation = await service.evaluation_at(as_at, request, lists=True)
    chosen = [
        i
        for i in evaluation.issues
        if (check is None or i.check == check) and reader.sees_team(i.team)
    ]
    await audit_read(service, reader, request, len(chosen), {i.team for i in chosen})
    return DataQualityOut(
        as_at=evaluation.as_at,
        counts=dict(sorted(Counter(i.check.value for i in chosen).items())),
        issues=chosen,
    )
