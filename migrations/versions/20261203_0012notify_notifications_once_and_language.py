"""crm: a notification is written once per event (dedupe key), texts in the recipient's language; leads campaigns

Revision ID: 0012notify
Revises: 0011leads
Create Date: 2026-12-03 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0012notify"
down_revision = "0011leads"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dedupe_key", sa.String(length=80), nullable=True))
        batch_op.create_index("uq_notifications_once", ["user_id", "channel", "kind", "dedupe_key"], unique=True)
    with op.batch_alter_table("notification_preferences", schema=None) as batch_op:
        batch_op.add_column(sa.Column("locale", sa.String(length=5), nullable=True))
    op.create_table(
        "lead_campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("title_zh", sa.String(length=120), nullable=False),
        sa.Column("title_en", sa.String(length=120), nullable=False),
        sa.Column("interest", sa.String(length=30), nullable=False),
        sa.Column("consent_text_version", sa.String(length=40), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_lead_campaigns_organization_id_organizations")
        ),
        sa.ForeignKeyConstraint(["created_by_id"], ["users.id"], name=op.f("fk_lead_campaigns_created_by_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_campaigns")),
        sa.UniqueConstraint("code", name=op.f("uq_lead_campaigns_code")),
    )


def downgrade() -> None:
    op.drop_table("lead_campaigns")
    with op.batch_alter_table("notification_preferences", schema=None) as batch_op:
        batch_op.drop_column("locale")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("uq_notifications_once")
        batch_op.drop_column("dedupe_key")
