"""crm: an owner's vehicle transfer waits for the named new owner's confirmation

Revision ID: 0009transfers
Revises: 0008signins
Create Date: 2026-12-02 13:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import UTCDateTime

revision = "0009transfers"
down_revision = "0008signins"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vehicle_transfers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("from_customer_id", sa.Integer(), nullable=False),
        sa.Column("to_customer_id", sa.Integer(), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=False),
        sa.Column("note", sa.String(length=500), nullable=False),
        sa.Column("requested_at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["vehicles.id"], name=op.f("fk_vehicle_transfers_vehicle_id_vehicles"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["from_customer_id"], ["customers.id"], name=op.f("fk_vehicle_transfers_from_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["to_customer_id"], ["customers.id"], name=op.f("fk_vehicle_transfers_to_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(["requested_by_id"], ["users.id"], name=op.f("fk_vehicle_transfers_requested_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vehicle_transfers")),
    )
    op.create_index(op.f("ix_vehicle_transfers_vehicle_id"), "vehicle_transfers", ["vehicle_id"])
    op.create_index(op.f("ix_vehicle_transfers_to_customer_id"), "vehicle_transfers", ["to_customer_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_vehicle_transfers_to_customer_id"), table_name="vehicle_transfers")
    op.drop_index(op.f("ix_vehicle_transfers_vehicle_id"), table_name="vehicle_transfers")
    op.drop_table("vehicle_transfers")
