"""The improvement board's pack over HTTP: freeze a month, list the freezes, download a pack.
Any reader token will do (a board token too): a pack holds aggregate figures only."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from casetime.access.gate import REFUSALS
from kpi.adapters.freezes import FreezeStore
from kpi.adapters.pack_folder import pack_name
from kpi.adapters.snapshots import QueryRefusedError
from kpi.api.deps import Reader, Service, busy
from kpi.board import MonthNotEndedError, NotFrozenError

router = APIRouter(tags=["board pack"])
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def month_of(text: str) -> date:
    return date.fromisoformat(f"{text}-01")


def freeze_summary(month: date, frozen_at: Any, events_known: int, figures: int) -> dict[str, Any]:
    return {
        "month": f"{month:%Y-%m}",
        "frozen_at": frozen_at,
        "events_known": events_known,
        "figures": figures,
    }


@router.post(
    "/freezes",
    summary="Freeze a month's figures for the board pack (once: a freeze never changes)",
    responses={**REFUSALS, 409: {"description": "The month has not ended."}},
    status_code=status.HTTP_201_CREATED,
)
async def freeze(
    service: Service,
    response: Response,
    _: Reader,  # a POST: rate-limited as expensive by the dependency
    month: Annotated[str, Query(pattern=MONTH, description="The month, e.g. 2026-10.")],
) -> dict[str, Any]:
    try:
        made, new = await service.board().freeze(month_of(month))
    except MonthNotEndedError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
    except QueryRefusedError as exc:
        raise busy(exc, retry_after=30) from None
    if not new:
        response.status_code = status.HTTP_200_OK
    return freeze_summary(made.month, made.frozen_at, made.events_known, len(made.figures))


@router.get("/freezes", summary="The months frozen so far", responses=REFUSALS)
async def freezes(service: Service, _: Reader) -> dict[str, Any]:
    months = await FreezeStore(service.store).months()
    return {"months": [f"{m:%Y-%m}" for m in months]}


FORMATS = {"xlsx": XLSX, "pdf": "application/pdf"}


@router.get(
    "/packs/{month}.{kind}",
    summary="The board pack of a frozen month: xlsx (the workbook) or pdf (to print)",
    responses={**REFUSALS, 404: {"description": "The month is not frozen."}},
    response_class=Response,
)
async def pack(
    service: Service,
    _: Reader,
    month: Annotated[str, Path(pattern=MONTH, description="The month, e.g. 2026-10.")],
    kind: Annotated[str, Path(pattern="^(xlsx|pdf)$", description="xlsx or pdf")],
) -> Response:
    board = service.board()
    try:
        body = await (
            board.pack(month_of(month)) if kind == "xlsx" else board.pack_pdf(month_of(month))
        )
    except NotFrozenError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"{exc}: POST /freezes first") from None
    name = pack_name(month_of(month), kind)
    return Response(
        body,
        media_type=FORMATS[kind],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
