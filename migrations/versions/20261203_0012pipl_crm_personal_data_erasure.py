"""crm: a customer record remembers when its person was erased; retention may drop touchpoints a lead saw

Revision ID: 0012pipl
Revises: 0011leads
Create Date: 2026-12-03 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import UTCDateTime

revision = "0012pipl"
down_revision = "0011leads"
branch_labels = None
depends_on = None

FK = "fk_lead_activities_touchpoint_id_crm_touchpoints"


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("erased_at", UTCDateTime(), nullable=True))
    # A touchpoint past its retention may be dropped; the lead's activity that mentioned it stays, unlinked.
    with op.batch_alter_table("lead_activities") as batch:
        batch.drop_constraint(FK, type_="foreignkey")
        batch.create_foreign_key(FK, "crm_touchpoints", ["touchpoint_id"], ["id"], ondelete="SET NULL")


def downgrade() -> None:
    with op.batch_alter_table("lead_activities") as batch:
        batch.drop_constraint(FK, type_="foreignkey")
        batch.create_foreign_key(FK, "crm_touchpoints", ["touchpoint_id"], ["id"])
    with op.batch_alter_table("customers") as batch:
        batch.drop_column("erased_at")
