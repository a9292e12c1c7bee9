"""traceability: a batch carries its commissioning event's occurred_at (the month its partition is found by)

Revision ID: 0016batchmonth
Revises: 0014eventmonth
Create Date: 2026-12-03 21:00:00.000000

The public scan page reads the batch's commissioning event beside the events naming the part. It found it by
batch and a time range from the production date to now, so PostgreSQL planned every month's partition since
(about three quarters of a millisecond of planning per page on a small year, more on a full one). With the
event's own `occurred_at` on the batch the lookup names the instant, and the planner keeps one partition.

The value is copied from the batch's commissioning event; a batch without one (none is made so, but a hand
edit could leave one) takes its `created_at`, where no event is found either way. A few thousand rows a year:
a plain UPDATE.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0016batchmonth"
down_revision = "0014eventmonth"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.add_column(sa.Column("commissioned_at", app.db.UTCDateTime(timezone=True), nullable=True))
    op.execute(
        "UPDATE batches SET commissioned_at = COALESCE((SELECT min(e.occurred_at) FROM custody_events e"
        " WHERE e.batch_id = batches.id AND e.event_type = 'commission'), created_at)"
    )
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.alter_column("commissioned_at", existing_type=app.db.UTCDateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("batches", schema=None) as batch_op:
        batch_op.drop_column("commissioned_at")
