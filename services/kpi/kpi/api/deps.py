"""What every route needs: the running service's parts, the shared query parameters, and an
evaluation as at the asked date within the query's budget."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, status

from casetime.access.credentials import Credential
from casetime.access.gate import EXPENSIVE, REFUSALS, Bearer, Gate, forbidden
from casetime.errors import error_responses
from kpi.adapters.consumer import EventSource
from kpi.adapters.freezes import FreezeStore
from kpi.adapters.snapshots import QueryRefusedError, SnapshotRefresher
from kpi.adapters.store import CaseStore
from kpi.board import Board
from kpi.domain.calendar import CALENDAR_FIRST, CALENDAR_LAST
from kpi.domain.council import CouncilConfig
from kpi.domain.evaluation import Evaluation
from kpi.settings import KpiSettings


@dataclass(frozen=True)
class Runtime:
    """The KPI service's running parts, one per process (``app.state.runtime``)."""

    settings: KpiSettings
    config: CouncilConfig
    store: CaseStore
    consumer: EventSource
    refresher: SnapshotRefresher
    gate: Gate

    def board(self) -> Board:
        """The board pack's use cases over this service's store and figures."""
        return Board(
            self.refresher,
            self.config,
            FreezeStore(self.store),
            self.settings.freeze_budget_seconds,
        )

    async def evaluation_at(
        self, as_at: date | None, request: Request, lists: bool = False
    ) -> Evaluation:
        """The live figures, or those as at a past date within the query's budget (503 with
        Retry-After when they cannot be had in time); with ``lists``, the child-level rows
        behind them too."""
        snapshot = self.refresher.snapshot
        if snapshot is None:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no figures yet")
        if as_at is None and not lists:
            return snapshot
        try:
            return await self.refresher.evaluate_past(
                as_at or snapshot.as_at,
                self.settings.query_budget_seconds,
                request.is_disconnected,
                lists=lists,
            )
        except QueryRefusedError as exc:
            raise busy(exc, retry_after=5) from None


def busy(refused: QueryRefusedError, retry_after: int) -> HTTPException:
    """503 with Retry-After: a past-date evaluation could not be had in time."""
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        f"{refused}; try again shortly",
        headers={"Retry-After": str(retry_after)},
    )


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


Service = Annotated[Runtime, Depends(_runtime)]


async def _reader(request: Request, runtime: Service, _: Bearer) -> Credential:
    """Any reader token (a board token too); a past date or a refresh costs a full
    evaluation, so those are rate-limited."""
    credential = await runtime.gate.reader(request.headers)
    if "as_at" in request.query_params or request.method == "POST":
        runtime.gate.limit(credential, EXPENSIVE)
    return credential


async def _list_reader(
    request: Request, reader: Annotated[Credential, Depends(_reader)]
) -> Credential:
    """A reader token scoped to teams: child-level rows are for those who work with them."""
    if not reader.sees_lists:
        raise forbidden("this token sees aggregate figures only, not child-level lists")
    team = request.query_params.get("team")
    if team not in (None, "all") and not reader.sees_team(team):
        raise forbidden(f"this token does not see team {team!r}")
    return reader


Reader = Annotated[Credential, Depends(_reader)]
ListReader = Annotated[Credential, Depends(_list_reader)]


async def audit_read(
    runtime: Runtime, reader: Credential, request: Request, rows: int, teams: set[str]
) -> None:
    """A child-level list read, logged before it is answered: no entry, no list."""
    try:
        await runtime.gate.audit(
            reader,
            "read",
            {
                "list": request.url.path,
                "query": dict(sorted(request.query_params.items())),
                "rows": rows,
                "teams": sorted(teams),
            },
        )
    except Exception:
        raise HTTPException(
            status.HTTP_503_SERVICE_UNAVAILABLE,
            "the read cannot be logged now; try again shortly",
            headers={"Retry-After": "5"},
        ) from None


AsAt = Annotated[
    date | None,
    Query(
        description="Compute as at this date (default: the live snapshot), within the"
        f" working-day calendar, {CALENDAR_FIRST} to {CALENDAR_LAST}.",
        ge=CALENDAR_FIRST,
        le=CALENDAR_LAST,
    ),
]
KpiId = Annotated[str | None, Query(description="Only this KPI id, e.g. ASMT-45WD.")]
Team = Annotated[str | None, Query(description="Only this team ('all': the council).")]
QUERY_ERRORS = {**error_responses(404, 422), **REFUSALS}
