"""reviews: a shop's requests that the OEM re-issue its plaque (one open request per shop)

Revision ID: 0013plaquereq
Revises: 0004orgstanding
Create Date: 2026-12-03 12:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0013plaquereq"
down_revision = "0004orgstanding"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plaque_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shop_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=20), nullable=False),
        sa.Column("note", sa.String(length=300), nullable=False),
        sa.Column("requested_by_id", sa.Integer(), nullable=True),
        sa.Column("requested_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("open_shop_id", sa.Integer(), nullable=True),
        sa.Column("resolved_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("resolved_by_id", sa.Integer(), nullable=True),
        sa.Column("plaque_number", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["shop_id"], ["shops.id"], name=op.f("fk_plaque_requests_shop_id_shops")),
        sa.ForeignKeyConstraint(
            ["requested_by_id"], ["users.id"], name=op.f("fk_plaque_requests_requested_by_id_users")
        ),
        sa.ForeignKeyConstraint(["resolved_by_id"], ["users.id"], name=op.f("fk_plaque_requests_resolved_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plaque_requests")),
        sa.UniqueConstraint("open_shop_id", name=op.f("uq_plaque_requests_open_shop_id")),
    )
    with op.batch_alter_table("plaque_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plaque_requests_shop_id"), ["shop_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("plaque_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plaque_requests_shop_id"))
    op.drop_table("plaque_requests")
