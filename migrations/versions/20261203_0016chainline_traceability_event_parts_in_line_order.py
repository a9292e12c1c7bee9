"""traceability: the rows naming each custody event's parts stored again in their lines' order

Revision ID: 0016chainline
Revises: 0016batchmonth
Create Date: 2026-12-03 21:00:00.000000

`milepost chain verify` hashes an event's `gtin|serial` lines in the order its rows are stored and sorts
only the events whose digest does not match that way (traceability/chain.py); the application now stores
them in that order (custody.record_event). Rows written before keep the order they came in, so on PostgreSQL
the table is rebuilt once ordered by event and line (one pass, as 0014eventmonth rebuilt it): the same rows,
the same columns, keys and indexes. No schema change, so nothing to undo; SQLite's verification sorts in
Python and needs nothing.
"""

from __future__ import annotations

from alembic import op

revision = "0016chainline"
down_revision = "0016batchmonth"
branch_labels = None
depends_on = None

TABLE = "custody_event_parts"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    execute = op.execute
    execute(f"ALTER TABLE {TABLE} RENAME TO {TABLE}_before_0016")
    execute(f"ALTER TABLE {TABLE}_before_0016 DROP CONSTRAINT pk_{TABLE}")
    execute(f"DROP INDEX ix_{TABLE}_part_id")
    execute(
        f"CREATE TABLE {TABLE} AS SELECT l.event_id, l.part_id, l.occurred_at"
        f" FROM {TABLE}_before_0016 l LEFT JOIN parts p ON p.id = l.part_id"
        " ORDER BY l.event_id, p.gtin || '|' || p.serial COLLATE \"C\""
    )
    execute(f"DROP TABLE {TABLE}_before_0016")
    for column in ("event_id", "part_id", "occurred_at"):
        execute(f"ALTER TABLE {TABLE} ALTER COLUMN {column} SET NOT NULL")
    execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT pk_{TABLE} PRIMARY KEY (event_id, part_id)")
    execute(f"CREATE INDEX ix_{TABLE}_part_id ON {TABLE} (part_id)")
    execute(f"ALTER TABLE {TABLE} ADD CONSTRAINT fk_{TABLE}_part_id_parts FOREIGN KEY (part_id) REFERENCES parts (id)")
    execute(f"ANALYZE {TABLE}")


def downgrade() -> None:
    pass  # the order rows are stored in is no part of the schema
