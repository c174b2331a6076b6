"""KPI facts: each unit's contributions, their totals, the rows behind them, and the queue of
units to derive again

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:00:00

The figures are no longer a whole-book evaluation renewed every few seconds: each child's (and
each care proceedings application's) facts are derived when its events change, and the
figures are sums kept up to date in the same database. The KPI service builds every unit's
facts in the background when it starts on a database without them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fact_generation",
        sa.Column("as_at", sa.Date(), primary_key=True),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("built", sa.Boolean(), nullable=False),
        sa.Column("cursor", sa.Text(), nullable=False),
        sa.Column("created_at", sqlmodel.sql.sqltypes.UTCDateTime(), nullable=False),
    )
    op.create_table(
        "fact_unit",
        sa.Column("as_at", sa.Date(), primary_key=True),
        sa.Column("unit", sa.Text(), primary_key=True),
        sa.Column("cells", sa.Text(), nullable=False),
    )
    op.create_table(
        "fact_total",
        sa.Column("as_at", sa.Date(), primary_key=True),
        sa.Column("key", sa.Text(), primary_key=True),
        sa.Column("numerator", sa.BigInteger(), nullable=False),
        sa.Column("denominator", sa.BigInteger(), nullable=False),
    )
    op.create_table(
        "fact_item",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("as_at", sa.Date(), nullable=False),
        sa.Column("unit", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("team", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
    )
    op.create_index("ix_fact_item_unit", "fact_item", ["as_at", "unit"])
    op.create_index("ix_fact_item_kind_team", "fact_item", ["as_at", "kind", "team"])
    op.create_table(
        "dirty_unit",
        sa.Column("unit", sa.Text(), primary_key=True),
        sa.Column("queue", sa.String(length=8), primary_key=True),
    )
    # a child's events, for its recording counts
    op.create_index("ix_case_event_child", "case_event", ["child_id"])


def downgrade() -> None:
    op.drop_index("ix_case_event_child", "case_event")
    for table in ("dirty_unit", "fact_item", "fact_total", "fact_unit", "fact_generation"):
        op.drop_table(table)
