"""network: who at the OEM assigned an escalated roadside request to a shop

Revision ID: 0006assign
Revises: 0005merge
Create Date: 2026-12-01 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006assign'
down_revision = '0005merge'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("assistance_requests", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assigned_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_assistance_requests_assigned_by_id_users", "users", ["assigned_by_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("assistance_requests", schema=None) as batch_op:
        batch_op.drop_constraint("fk_assistance_requests_assigned_by_id_users", type_="foreignkey")
        batch_op.drop_column("assigned_by_id")
