"""outbox: whether the person was told how a retried write ended

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("told_at", sa.DateTime(), nullable=True))
    # writes finished before this column existed: their people were told then
    op.execute("UPDATE outbox SET told_at = updated_at WHERE status IN ('done', 'failed')")


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("told_at")
