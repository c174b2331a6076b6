"""case events keep their team and recording date (RECORDING-LAG)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 00:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Existing rows get their values from the stored event body's envelope.
    op.add_column("case_event", sa.Column("recorded_on", sa.Date(), nullable=True))
    op.add_column(
        "case_event",
        sa.Column("team", sqlmodel.sql.sqltypes.AutoString(length=100), nullable=True),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE case_event SET team = body::json->>'team', recorded_on = "
            "((body::json->>'recorded_at')::timestamptz AT TIME ZONE 'Europe/London')::date"
        )
    op.alter_column("case_event", "recorded_on", nullable=False)
    op.alter_column("case_event", "team", nullable=False)
    op.create_index("ix_case_event_recorded_on", "case_event", ["recorded_on"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_case_event_recorded_on", table_name="case_event")
    op.drop_column("case_event", "team")
    op.drop_column("case_event", "recorded_on")
