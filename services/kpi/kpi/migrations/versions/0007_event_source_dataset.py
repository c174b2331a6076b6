"""case events keep the dataset a connector took them from (RECORDING-LAG leaves them out)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 22:10:00

Events applied before 0007 came from case systems or from connectors that did not name their
dataset yet; they keep NULL, and a connector's next run names it at the events' next revision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("case_event", sa.Column("source_dataset", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("case_event") as batch:
        batch.drop_column("source_dataset")
