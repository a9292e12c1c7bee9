"""crm: a touchpoint names the organization the person asked to hear from (a referral's, walk-in's or campaign's dealer)

The leads intake puts such a lead in that dealer's pool, not in the first pool whose territory holds the province
(territories overlap). Older touchpoints keep NULL: their leads are already in a pool; a later touch of one of them
keeps the lead in its dealer's pool.

Revision ID: 0015touchorg
Revises: 0014erasekeys
Create Date: 2026-12-03 18:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015touchorg"
down_revision = "0014erasekeys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crm_touchpoints") as batch:
        batch.add_column(sa.Column("organization_id", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_crm_touchpoints_organization_id_organizations", "organizations", ["organization_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("crm_touchpoints") as batch:
        batch.drop_constraint("fk_crm_touchpoints_organization_id_organizations", type_="foreignkey")
        batch.drop_column("organization_id")
