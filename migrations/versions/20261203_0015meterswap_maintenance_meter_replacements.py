"""maintenance: a truck's meter replaced (a new instrument cluster): readings judged per meter, next-due values moved

Revision ID: 0015meterswap
Revises: 0014remindchecks
Create Date: 2026-12-03 18:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa

import app.db
from alembic import op

revision = "0015meterswap"
down_revision = "0014remindchecks"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "maintenance_meter_replacements",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("replaced_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("old_value", sa.Integer(), nullable=False),
        sa.Column("new_value", sa.Integer(), nullable=False),
        sa.Column("recorded_by_id", sa.Integer(), nullable=True),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["vehicle_id"],
            ["vehicles.id"],
            name=op.f("fk_maintenance_meter_replacements_vehicle_id_vehicles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by_id"], ["users.id"], name=op.f("fk_maintenance_meter_replacements_recorded_by_id_users")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_maintenance_meter_replacements_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_maintenance_meter_replacements")),
    )
    op.create_index(
        "ix_maintenance_meter_replacements_vehicle_kind_at",
        "maintenance_meter_replacements",
        ["vehicle_id", "kind", "replaced_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_maintenance_meter_replacements_vehicle_kind_at", table_name="maintenance_meter_replacements")
    op.drop_table("maintenance_meter_replacements")
