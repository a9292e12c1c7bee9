"""crm: organization rating and certification written by reviews

Revision ID: 0004orgstanding
Revises: 0003reviews
Create Date: 2026-11-22 22:59:11.613017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db


revision = '0004orgstanding'
down_revision = '0003reviews'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rating", sa.Numeric(precision=3, scale=2), nullable=True))
        # Server defaults fill the rows that exist already; new rows get the model's defaults.
        batch_op.add_column(sa.Column("rating_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(
            sa.Column("certification_tier", sa.String(length=20), nullable=False, server_default="none")
        )
    # Shops already rated or certified by reviews carry the same standing on their organization.
    op.execute(
        "UPDATE organizations SET "
        "rating = (SELECT shops.rating FROM shops WHERE shops.organization_id = organizations.id), "
        "rating_count = COALESCE((SELECT shops.rating_count FROM shops WHERE shops.organization_id = organizations.id), 0), "
        "certification_tier = COALESCE((SELECT shops.certification_tier FROM shops "
        "WHERE shops.organization_id = organizations.id), 'none') "
        "WHERE kind = 'shop'"
    )


def downgrade() -> None:
    with op.batch_alter_table("organizations", schema=None) as batch_op:
        batch_op.drop_column("certification_tier")
        batch_op.drop_column("rating_count")
        batch_op.drop_column("rating")
