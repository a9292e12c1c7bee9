"""traceability: alerts count their reopenings; problem reports keep the driver's coarse place

Revision ID: 0009trace
Revises: 0008activity
Create Date: 2026-12-02 14:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import UTCDateTime

revision = "0009trace"
down_revision = "0008activity"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reopened", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("reopened_at", UTCDateTime(), nullable=True))
    with op.batch_alter_table("problem_reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("province", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("city", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("problem_reports", schema=None) as batch_op:
        batch_op.drop_column("city")
        batch_op.drop_column("province")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_column("reopened_at")
        batch_op.drop_column("reopened")
