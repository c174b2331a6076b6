"""a queued unit keeps the earliest day its changes reach back to, so that a kept date after
none of them is left alone

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 06:10:00

Units queued before 0008 take the earliest date there is: they are derived at every kept date,
as they were before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "dirty_unit",
        sa.Column("since", sa.Date(), nullable=False, server_default=sa.text("'0001-01-01'")),
    )


def downgrade() -> None:
    with op.batch_alter_table("dirty_unit") as batch:
        batch.drop_column("since")
