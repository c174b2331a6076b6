"""Month-end freezes of the figures for the improvement board's pack

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 11:00:00

A freeze never changes: UPDATE and DELETE are refused by trigger (and TRUNCATE on PostgreSQL).
Later events show in the next pack as revisions, computed against the freeze.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG_GUARD = (
    """CREATE FUNCTION month_freeze_never_changes() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'a month-end freeze never changes (% refused)', TG_OP;
    END $$""",
    "CREATE TRIGGER month_freeze_no_change BEFORE UPDATE OR DELETE ON month_freeze"
    " FOR EACH ROW EXECUTE FUNCTION month_freeze_never_changes()",
    "CREATE TRIGGER month_freeze_no_truncate BEFORE TRUNCATE ON month_freeze"
    " FOR EACH STATEMENT EXECUTE FUNCTION month_freeze_never_changes()",
)

_SQLITE_GUARD = (
    "CREATE TRIGGER month_freeze_no_update BEFORE UPDATE ON month_freeze"
    " BEGIN SELECT RAISE(ABORT, 'a month-end freeze never changes (UPDATE refused)'); END",
    "CREATE TRIGGER month_freeze_no_delete BEFORE DELETE ON month_freeze"
    " BEGIN SELECT RAISE(ABORT, 'a month-end freeze never changes (DELETE refused)'); END",
)


def upgrade() -> None:
    op.create_table(
        "month_freeze",
        sa.Column("month", sa.Date(), primary_key=True),
        sa.Column("frozen_at", sa.String(40), nullable=False),
        sa.Column("events_known", sa.BigInteger(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
    )
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _PG_GUARD if postgres else _SQLITE_GUARD:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("month_freeze")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS month_freeze_never_changes()")
