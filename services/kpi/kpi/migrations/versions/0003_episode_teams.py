"""episodes keep the team of each of their events (catalogue section 10.1): refold every episode

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 20:30:00

Figures now belong to the team named on the event that closed a clock, and open clocks to the
team on the episode's latest event by the as-at date, so each episode's state carries its
events' teams. No column changes: every episode is folded again from its live events.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from itertools import groupby

import sqlalchemy as sa
from alembic import op

from casetime.events import parse_event
from kpi.domain.episodes import fold

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BATCH = 500


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT episode_kind, episode_id, child_id, body FROM case_event"
            " WHERE voided_by IS NULL AND event_type != 'event_voided'"
            " AND episode_kind IS NOT NULL ORDER BY episode_kind, episode_id, child_id"
        )
    )
    pending: list[dict[str, object]] = []
    for (kind, episode_id, child_id), group in groupby(rows, key=lambda r: tuple(r[:3])):
        episode = fold(kind, [parse_event(row[3]) for row in group])
        if episode is not None:
            pending.append(
                {
                    "kind": kind,
                    "episode_id": episode_id,
                    "child_id": child_id,
                    "team": episode.team,
                    "state": episode.model_dump_json(),
                    "now": datetime.now(UTC),
                }
            )
        if len(pending) >= _BATCH:
            _save(pending)
    _save(pending)


def _save(pending: list[dict[str, object]]) -> None:
    if pending:
        op.get_bind().execute(
            sa.text(
                "UPDATE episode SET state = :state, team = :team, updated_at = :now"
                " WHERE kind = :kind AND episode_id = :episode_id AND child_id = :child_id"
            ),
            pending,
        )
        pending.clear()


def downgrade() -> None:
    # the older state simply ignores the extra field; nothing to undo
    pass
