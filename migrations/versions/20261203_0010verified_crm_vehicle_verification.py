"""crm: a vehicle record is verified by a dealer's sale or an OEM check; a driver's own registration is not

Revision ID: 0010verified
Revises: 0009transfers
Create Date: 2026-12-03 08:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import UTCDateTime

revision = "0010verified"
down_revision = "0009transfers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("vehicles") as batch:
        batch.add_column(sa.Column("verified_at", UTCDateTime(), nullable=True))
    # Records a dealer made (they name the selling dealer) were verified by that sale; a driver's own stay open.
    op.execute("UPDATE vehicles SET verified_at = created_at WHERE dealer_id IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table("vehicles") as batch:
        batch.drop_column("verified_at")
