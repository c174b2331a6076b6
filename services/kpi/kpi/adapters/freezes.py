"""Month-end freezes in the case store (table month_freeze, migration 0006), and the count of
events applied after a freeze that happened in its month (what a revision's figure moved by)."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from kpi.adapters.sql import LIVE_EVENT
from kpi.adapters.store import CaseStore
from kpi.adapters.tables import CaseEventRecord
from kpi.domain.board_pack import Freeze, month_end

FREEZE = sa.Table(
    "month_freeze",
    sa.MetaData(),
    sa.Column("month", sa.Date(), primary_key=True),
    sa.Column("frozen_at", sa.String(40), nullable=False),
    sa.Column("events_known", sa.BigInteger(), nullable=False),
    sa.Column("body", sa.Text(), nullable=False),
)
_EVENT = CaseEventRecord.__table__  # type: ignore[attr-defined]


class FreezeStore:
    def __init__(self, store: CaseStore) -> None:
        self._engine = store.engine

    async def get(self, month: date) -> Freeze | None:
        async with self._engine.connect() as conn:
            body = await conn.scalar(
                sa.select(FREEZE.c.body).where(FREEZE.c.month == month.replace(day=1))
            )
        return None if body is None else Freeze.from_json(body)

    async def months(self) -> list[date]:
        async with self._engine.connect() as conn:
            rows = await conn.execute(sa.select(FREEZE.c.month).order_by(FREEZE.c.month))
            return [row[0] for row in rows]

    async def add(self, freeze: Freeze) -> Freeze:
        """Keep ``freeze``; if the month was frozen already (by another instance), that one."""
        row = {
            "month": freeze.month,
            "frozen_at": freeze.frozen_at.isoformat(),
            "events_known": freeze.events_known,
            "body": freeze.to_json(),
        }
        try:
            async with self._engine.begin() as conn:
                await conn.execute(FREEZE.insert().values(**row))
        except IntegrityError:
            held = await self.get(freeze.month)
            assert held is not None
            return held
        return freeze

    async def events_known(self) -> int:
        async with self._engine.connect() as conn:
            return int(await conn.scalar(sa.select(sa.func.count()).where(*LIVE_EVENT)) or 0)

    async def late_events(self, freeze: Freeze) -> dict[str, int]:
        """Per team: live events applied after the freeze that happened by the month's end."""
        query = (
            sa.select(_EVENT.c.team, sa.func.count())
            .where(
                *LIVE_EVENT,
                _EVENT.c.applied_at > freeze.frozen_at,
                _EVENT.c.occurred_on <= month_end(freeze.month),
            )
            .group_by(_EVENT.c.team)
        )
        async with self._engine.connect() as conn:
            return {team: int(n) for team, n in await conn.execute(query)}
