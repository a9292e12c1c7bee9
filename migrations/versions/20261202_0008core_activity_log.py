"""core: the append-only activity log (who did what to which record)

Revision ID: 0008activity
Revises: 0007jobs
Create Date: 2026-12-02 12:30:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.db import UTCDateTime

revision = "0008activity"
down_revision = "0007jobs"
branch_labels = None
depends_on = None

# The log is evidence: refuse UPDATE and DELETE in the database itself, not only in the ORM.
POSTGRESQL_TRIGGER = """
CREATE FUNCTION activity_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the activity log is append-only';
END $$;
CREATE TRIGGER activity_log_append_only BEFORE UPDATE OR DELETE ON activity_log
    FOR EACH ROW EXECUTE FUNCTION activity_log_append_only();
"""
SQLITE_TRIGGERS = [
    "CREATE TRIGGER activity_log_no_update BEFORE UPDATE ON activity_log "
    "BEGIN SELECT RAISE(ABORT, 'the activity log is append-only'); END",
    "CREATE TRIGGER activity_log_no_delete BEFORE DELETE ON activity_log "
    "BEGIN SELECT RAISE(ABORT, 'the activity log is append-only'); END",
]


def upgrade() -> None:
    op.create_table(
        "activity_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", UTCDateTime(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor_role", sa.String(length=20), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("subject_type", sa.String(length=40), nullable=False),
        sa.Column("subject_id", sa.String(length=60), nullable=False),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["actor_id"], ["users.id"], name="fk_activity_log_actor_id_users"),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"], name="fk_activity_log_organization_id_organizations"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_activity_log"),
    )
    op.create_index("ix_activity_log_occurred_at", "activity_log", ["occurred_at"])
    op.create_index("ix_activity_log_actor_id", "activity_log", ["actor_id"])
    op.create_index("ix_activity_log_organization_id", "activity_log", ["organization_id"])
    op.create_index("ix_activity_log_action", "activity_log", ["action"])
    op.create_index("ix_activity_log_subject", "activity_log", ["subject_type", "subject_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(POSTGRESQL_TRIGGER)
    else:
        for statement in SQLITE_TRIGGERS:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER activity_log_append_only ON activity_log")
        op.execute("DROP FUNCTION activity_log_append_only()")
    op.drop_table("activity_log")
