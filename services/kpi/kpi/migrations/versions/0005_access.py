"""Access: credentials (source keys, reader tokens) and the append-only audit log

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 06:00:00

The audit log refuses UPDATE and DELETE by trigger (and TRUNCATE on PostgreSQL), whoever asks;
PUBLIC holds no grant to change it. Run the services as a role that is not the table's owner
(README, "Security") so that not even a trigger can be dropped by them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PG_GUARD = (
    """CREATE FUNCTION audit_entry_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'the audit log is append-only (% refused)', TG_OP;
    END $$""",
    "CREATE TRIGGER audit_entry_no_change BEFORE UPDATE OR DELETE ON audit_entry"
    " FOR EACH ROW EXECUTE FUNCTION audit_entry_is_append_only()",
    "CREATE TRIGGER audit_entry_no_truncate BEFORE TRUNCATE ON audit_entry"
    " FOR EACH STATEMENT EXECUTE FUNCTION audit_entry_is_append_only()",
    "REVOKE UPDATE, DELETE, TRUNCATE ON audit_entry FROM PUBLIC",
)

_SQLITE_GUARD = (
    "CREATE TRIGGER audit_entry_no_update BEFORE UPDATE ON audit_entry"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only (UPDATE refused)'); END",
    "CREATE TRIGGER audit_entry_no_delete BEFORE DELETE ON audit_entry"
    " BEGIN SELECT RAISE(ABORT, 'the audit log is append-only (DELETE refused)'); END",
)


def upgrade() -> None:
    op.create_table(
        "credential",
        sa.Column("id", sa.String(12), primary_key=True),
        sa.Column("kind", sa.String(3), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("services", sa.Text(), nullable=False),
        sa.Column("teams", sa.Text(), nullable=False),
        sa.Column("secret_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.String(40), nullable=False),
        sa.Column("expires_at", sa.String(40)),
        sa.Column("revoked_at", sa.String(40)),
        sa.Column("replaces", sa.String(12)),
    )
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
        sa.Column("at", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
    )
    op.create_index("ix_audit_entry_at", "audit_entry", ["at"])
    postgres = op.get_bind().dialect.name == "postgresql"
    for statement in _PG_GUARD if postgres else _SQLITE_GUARD:
        op.execute(statement)


def downgrade() -> None:
    op.drop_table("audit_entry")
    op.drop_table("credential")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS audit_entry_is_append_only()")
