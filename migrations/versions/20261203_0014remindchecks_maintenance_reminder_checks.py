"""maintenance: the day the reminder round looks at each truck again (the round no longer reads every truck)

Every truck starts with a check at the next round, which then sets the next day its items reach a level.

Revision ID: 0014remindchecks
Revises: 0012maint
Create Date: 2026-12-03 15:20:00.000000
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from alembic import op

revision = "0014remindchecks"
down_revision = "0012maint"
branch_labels = None
depends_on = None

ASAP = date(2000, 1, 1)


def upgrade() -> None:
    checks = op.create_table(
        "maintenance_reminder_checks",
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("check_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["vehicle_id"],
            ["vehicles.id"],
            name=op.f("fk_maintenance_reminder_checks_vehicle_id_vehicles"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("vehicle_id", name=op.f("pk_maintenance_reminder_checks")),
    )
    op.create_index("ix_maintenance_reminder_checks_check_on", "maintenance_reminder_checks", ["check_on"])
    vehicles = sa.table("vehicles", sa.column("id", sa.Integer))
    op.execute(
        checks.insert().from_select(
            ["vehicle_id", "check_on"], sa.select(vehicles.c.id, sa.literal(ASAP, sa.Date()))
        )
    )


def downgrade() -> None:
    op.drop_index("ix_maintenance_reminder_checks_check_on", table_name="maintenance_reminder_checks")
    op.drop_table("maintenance_reminder_checks")
