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
    else:  # SQLite (embedded mode): the UTC date is close enough for rows written before 0002
        op.execute(
            "UPDATE case_event SET team = json_extract(body, '$.team'), "
            "recorded_on = substr(json_extract(body, '$.recorded_at'), 1, 10)"
        )
    # batch mode: SQLite cannot ALTER COLUMN, so Alembic rebuilds the table there
    with op.batch_alter_table("case_event") as batch:
        batch.alter_column("recorded_on", nullable=False)
        batch.alter_column("team", nullable=False)
        batch.create_index("ix_case_event_recorded_on", ["recorded_on"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("case_event") as batch:
        batch.drop_index("ix_case_event_recorded_on")
        batch.drop_column("team")
        batch.drop_column("recorded_on")
