"""crm: touchpoints written by every domain, one notification inbox with per-person quiet hours

Revision ID: 0010crmnotify
Revises: 0009transfers
Create Date: 2026-12-03 07:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0010crmnotify"
down_revision = "0009transfers"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_preferences",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("quiet_start", sa.String(length=5), nullable=True),
        sa.Column("quiet_end", sa.String(length=5), nullable=True),
        sa.Column("sms_enabled", sa.Boolean(), nullable=False),
        sa.Column("marketing_opt_in", sa.Boolean(), nullable=False),
        sa.Column("marketing_text_version", sa.String(length=40), nullable=True),
        sa.Column("marketing_changed_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notification_preferences_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_preferences")),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("text", sa.String(length=500), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("link", sa.String(length=300), nullable=False),
        sa.Column("subject_type", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.String(length=60), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deliver_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("sent_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("read_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failure", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_notifications_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index("ix_notifications_due", ["channel", "sent_at", "deliver_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_notifications_user_id"), ["user_id"], unique=False)
        batch_op.create_index("ix_notifications_user_read", ["user_id", "channel", "read_at"], unique=False)

    op.create_table(
        "crm_touchpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("vehicle_id", sa.Integer(), nullable=True),
        sa.Column("vin", sa.String(length=17), nullable=True),
        sa.Column("channel", sa.String(length=30), nullable=False),
        sa.Column("kind", sa.String(length=40), nullable=False),
        sa.Column("source_type", sa.String(length=40), nullable=False),
        sa.Column("source_id", sa.String(length=60), nullable=False),
        sa.Column("province", sa.String(length=40), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("summary", sa.String(length=200), nullable=False),
        sa.Column("consent_basis", sa.String(length=20), nullable=False),
        sa.Column("consent_topic", sa.String(length=40), nullable=False),
        sa.Column("consent_text_version", sa.String(length=40), nullable=True),
        sa.Column("occurred_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("processed_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_crm_touchpoints_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(["vehicle_id"], ["vehicles.id"], name=op.f("fk_crm_touchpoints_vehicle_id_vehicles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_touchpoints")),
    )
    with op.batch_alter_table("crm_touchpoints", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crm_touchpoints_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_crm_touchpoints_occurred_at"), ["occurred_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_crm_touchpoints_phone"), ["phone"], unique=False)
        batch_op.create_index(batch_op.f("ix_crm_touchpoints_processed_at"), ["processed_at"], unique=False)
        batch_op.create_index("ix_crm_touchpoints_source", ["source_type", "source_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_crm_touchpoints_vehicle_id"), ["vehicle_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_crm_touchpoints_vin"), ["vin"], unique=False)

    op.create_table(
        "wechat_grants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("openid", sa.String(length=64), nullable=False),
        sa.Column("template_id", sa.String(length=64), nullable=False),
        sa.Column("granted_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_wechat_grants_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wechat_grants")),
    )
    with op.batch_alter_table("wechat_grants", schema=None) as batch_op:
        batch_op.create_index("ix_wechat_grants_unused", ["user_id", "template_id", "used_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("wechat_grants", schema=None) as batch_op:
        batch_op.drop_index("ix_wechat_grants_unused")

    op.drop_table("wechat_grants")
    with op.batch_alter_table("crm_touchpoints", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_touchpoints_vin"))
        batch_op.drop_index(batch_op.f("ix_crm_touchpoints_vehicle_id"))
        batch_op.drop_index("ix_crm_touchpoints_source")
        batch_op.drop_index(batch_op.f("ix_crm_touchpoints_processed_at"))
        batch_op.drop_index(batch_op.f("ix_crm_touchpoints_phone"))
        batch_op.drop_index(batch_op.f("ix_crm_touchpoints_occurred_at"))
        batch_op.drop_index(batch_op.f("ix_crm_touchpoints_customer_id"))

    op.drop_table("crm_touchpoints")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_user_read")
        batch_op.drop_index(batch_op.f("ix_notifications_user_id"))
        batch_op.drop_index("ix_notifications_due")

    op.drop_table("notifications")
    op.drop_table("notification_preferences")
