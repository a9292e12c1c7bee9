"""reviews: the OEM may decline a plaque re-issue request, with the reason the shop is shown

Revision ID: 0014plaquedecline
Revises: 0013plaquereq
Create Date: 2026-12-03 14:50:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014plaquedecline"
down_revision = "0013plaquereq"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("plaque_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decline_reason", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("plaque_requests", schema=None) as batch_op:
        batch_op.drop_column("decline_reason")
