"""leads: team members, public pools, leads, activities and the transition log

Revision ID: 0011leads
Revises: 0010crmnotify
Create Date: 2026-12-03 07:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0011leads"
down_revision = "0010crmnotify"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lead_pools",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("provinces", sa.JSON(), nullable=False),
        sa.Column("is_oem", sa.Boolean(), nullable=False),
        sa.Column("auto_assign", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_lead_pools_organization_id_organizations")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_pools")),
        sa.UniqueConstraint("code", name=op.f("uq_lead_pools_code")),
    )
    with op.batch_alter_table("lead_pools", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_pools_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "lead_team_members",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("provinces", sa.JSON(), nullable=False),
        sa.Column("channels", sa.JSON(), nullable=False),
        sa.Column("cap", sa.Integer(), nullable=True),
        sa.Column("daily_claim_limit", sa.Integer(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name=op.f("fk_lead_team_members_organization_id_organizations")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_lead_team_members_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_team_members")),
        sa.UniqueConstraint("user_id", name=op.f("uq_lead_team_members_user_id")),
    )
    with op.batch_alter_table("lead_team_members", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_team_members_organization_id"), ["organization_id"], unique=False)

    op.create_table(
        "leads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=True),
        sa.Column("vehicle_id", sa.Integer(), nullable=True),
        sa.Column("vin", sa.String(length=17), nullable=True),
        sa.Column("channel", sa.String(length=30), nullable=False),
        sa.Column("province", sa.String(length=40), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("interest", sa.String(length=30), nullable=False),
        sa.Column("grade", sa.String(length=1), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.Column("owner_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("first_follow_up_due_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_follow_up_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("recycle_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("reclaim_blocked_user_id", sa.Integer(), nullable=True),
        sa.Column("reclaim_blocked_until", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("dispatch_due_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("lost_reason", sa.String(length=40), nullable=True),
        sa.Column("reactivated_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("consent_basis", sa.String(length=20), nullable=False),
        sa.Column("consent_topic", sa.String(length=40), nullable=False),
        sa.Column("marketing_opt_out_at", app.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_touch_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_leads_customer_id_customers")),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name=op.f("fk_leads_owner_id_users")),
        sa.ForeignKeyConstraint(["pool_id"], ["lead_pools.id"], name=op.f("fk_leads_pool_id_lead_pools")),
        sa.ForeignKeyConstraint(
            ["reclaim_blocked_user_id"], ["users.id"], name=op.f("fk_leads_reclaim_blocked_user_id_users")
        ),
        sa.ForeignKeyConstraint(["vehicle_id"], ["vehicles.id"], name=op.f("fk_leads_vehicle_id_vehicles")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_leads")),
    )
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_leads_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_customer_id"), ["customer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_dispatch_due_at"), ["dispatch_due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_first_follow_up_due_at"), ["first_follow_up_due_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_phone"), ["phone"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_pool_id"), ["pool_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_recycle_at"), ["recycle_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_stage"), ["stage"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_vehicle_id"), ["vehicle_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_leads_vin"), ["vin"], unique=False)
        batch_op.create_index(
            "uq_leads_open_phone",
            ["phone"],
            unique=True,
            postgresql_where=sa.text("stage <> 'won'"),
            sqlite_where=sa.text("stage <> 'won'"),
        )

    op.create_table(
        "lead_activities",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("outcome", sa.String(length=40), nullable=False),
        sa.Column("topic", sa.String(length=40), nullable=False),
        sa.Column("body", sa.String(length=1000), nullable=False),
        sa.Column("touchpoint_id", sa.Integer(), nullable=True),
        sa.Column("at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_lead_activities_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["touchpoint_id"], ["crm_touchpoints.id"], name=op.f("fk_lead_activities_touchpoint_id_crm_touchpoints")
        ),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name=op.f("fk_lead_activities_user_id_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_activities")),
    )
    with op.batch_alter_table("lead_activities", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_activities_lead_id"), ["lead_id"], unique=False)

    op.create_table(
        "lead_transitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lead_id", sa.Integer(), nullable=False),
        sa.Column("from_stage", sa.String(length=20), nullable=True),
        sa.Column("to_stage", sa.String(length=20), nullable=False),
        sa.Column("from_pool_id", sa.Integer(), nullable=True),
        sa.Column("to_pool_id", sa.Integer(), nullable=True),
        sa.Column("from_owner_id", sa.Integer(), nullable=True),
        sa.Column("to_owner_id", sa.Integer(), nullable=True),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("note", sa.String(length=200), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", app.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name=op.f("fk_lead_transitions_actor_id_users")),
        sa.ForeignKeyConstraint(["from_owner_id"], ["users.id"], name=op.f("fk_lead_transitions_from_owner_id_users")),
        sa.ForeignKeyConstraint(
            ["from_pool_id"], ["lead_pools.id"], name=op.f("fk_lead_transitions_from_pool_id_lead_pools")
        ),
        sa.ForeignKeyConstraint(
            ["lead_id"], ["leads.id"], name=op.f("fk_lead_transitions_lead_id_leads"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["to_owner_id"], ["users.id"], name=op.f("fk_lead_transitions_to_owner_id_users")),
        sa.ForeignKeyConstraint(
            ["to_pool_id"], ["lead_pools.id"], name=op.f("fk_lead_transitions_to_pool_id_lead_pools")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lead_transitions")),
    )
    with op.batch_alter_table("lead_transitions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_lead_transitions_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_lead_transitions_lead_id"), ["lead_id"], unique=False)
        batch_op.create_index("ix_lead_transitions_owner_at", ["to_owner_id", "reason", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("lead_transitions", schema=None) as batch_op:
        batch_op.drop_index("ix_lead_transitions_owner_at")
        batch_op.drop_index(batch_op.f("ix_lead_transitions_lead_id"))
        batch_op.drop_index(batch_op.f("ix_lead_transitions_at"))

    op.drop_table("lead_transitions")
    with op.batch_alter_table("lead_activities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_activities_lead_id"))

    op.drop_table("lead_activities")
    with op.batch_alter_table("leads", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_leads_open_phone", postgresql_where=sa.text("stage <> 'won'"), sqlite_where=sa.text("stage <> 'won'")
        )
        batch_op.drop_index(batch_op.f("ix_leads_vin"))
        batch_op.drop_index(batch_op.f("ix_leads_vehicle_id"))
        batch_op.drop_index(batch_op.f("ix_leads_stage"))
        batch_op.drop_index(batch_op.f("ix_leads_recycle_at"))
        batch_op.drop_index(batch_op.f("ix_leads_pool_id"))
        batch_op.drop_index(batch_op.f("ix_leads_phone"))
        batch_op.drop_index(batch_op.f("ix_leads_owner_id"))
        batch_op.drop_index(batch_op.f("ix_leads_first_follow_up_due_at"))
        batch_op.drop_index(batch_op.f("ix_leads_dispatch_due_at"))
        batch_op.drop_index(batch_op.f("ix_leads_customer_id"))
        batch_op.drop_index(batch_op.f("ix_leads_created_at"))

    op.drop_table("leads")
    with op.batch_alter_table("lead_team_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_team_members_organization_id"))

    op.drop_table("lead_team_members")
    with op.batch_alter_table("lead_pools", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_lead_pools_organization_id"))

    op.drop_table("lead_pools")
