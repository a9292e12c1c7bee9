"""traceability: custody_event_parts carries its event's occurred_at (the month its partition is found by)

Revision ID: 0014eventmonth
Revises: 0012parts, 0012unknown
Create Date: 2026-12-03 15:00:00.000000

`custody_events` is partitioned by month of `occurred_at` (0012parts) and the rows naming a part found their
events by id alone, so every month's key was probed for a part's history (the public scan page reads it on
every view). With the event's `occurred_at` beside its id, the lookup names the month and PostgreSQL reads
only the partitions it needs. The value is copied from the event; it never changes (events are never edited).

On PostgreSQL the table is rebuilt from a join (one pass, no dead row per row as an UPDATE of every row would
leave), and a row whose event is missing stops the migration (the column is NOT NULL). SQLite adds the column,
fills it and sets it NOT NULL by batch mode's copy.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import app.db

revision = "0014eventmonth"
down_revision = ("0012parts", "0012unknown")
branch_labels = None
depends_on = None

TABLE = "custody_event_parts"


def _rebuild_postgresql() -> None:
    execute = op.execute
    execute(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_before_0014")
    execute(f"ALTER TABLE {TABLE}_before_0014 DROP CONSTRAINT pk_{TABLE}")
    execute(f"DROP INDEX ix_{TABLE}_part_id")
    execute(
        f"CREATE TABLE {TABLE} AS SELECT p.event_id, p.part_id, e.occurred_at"
        f" FROM {TABLE}_before_0014 p LEFT JOIN custody_events e ON e.id = p.event_id"
    )
    execute(f"DROP TABLE {TABLE}_before_0014")
    for column in ("event_id", "part_id", "occurred_at"):
        execute(f"ALTER TABLE {TABLE} ALTER COLUMN {column} SET NOT NULL")
    execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT pk_{TABLE} PRIMARY KEY (event_id, part_id)")
    execute(f"CREATE INDEX ix_{TABLE}_part_id ON {TABLE} (part_id)")
    execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT fk_{TABLE}_part_id_parts FOREIGN KEY (part_id) REFERENCES parts (id)")
    execute(f"ANALYZE {TABLE}")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _rebuild_postgresql()
        return
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.add_column(sa.Column("occurred_at", app.db.UTCDateTime(timezone=True), nullable=True))
    op.execute(
        f"UPDATE {TABLE} SET occurred_at = (SELECT e.occurred_at FROM custody_events e WHERE e.id = {TABLE}.event_id)"
    )
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.alter_column("occurred_at", existing_type=app.db.UTCDateTime(timezone=True), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table(TABLE, schema=None) as batch_op:
        batch_op.drop_column("occurred_at")
