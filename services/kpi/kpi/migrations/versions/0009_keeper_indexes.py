"""indexes for the facts keeper: a child's episodes, and one queue's units

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 07:00:00

Without them each round of the keeper scanned the whole episode table (the episodes were
indexed by kind first) and the whole queue: in bench/live_facts.py, 289 scans reading 32
million episode rows for 193,000 events.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_episode_child", "episode", ["child_id"])
    op.create_index("ix_dirty_unit_queue", "dirty_unit", ["queue", "unit"])


def downgrade() -> None:
    op.drop_index("ix_dirty_unit_queue", table_name="dirty_unit")
    op.drop_index("ix_episode_child", table_name="episode")
