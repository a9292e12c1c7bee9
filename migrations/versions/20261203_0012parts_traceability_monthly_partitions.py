"""traceability: scans and custody events partitioned by month on PostgreSQL

Revision ID: 0012parts
Revises: 0008trace, 0009trace
Create Date: 2026-12-03 11:00:00.000000

On PostgreSQL `scans` (by `scanned_at`) and `custody_events` (by `occurred_at`) become range-partitioned
tables with one partition per UTC month, from the month of the oldest row to three months ahead, and a
default partition for anything outside them; every existing row is copied across. A partitioned table's
primary key and unique constraints must contain the partition key, so:

- the primary keys become `(id, scanned_at)` and `(id, occurred_at)` (ids stay unique: one sequence);
- the chain's unique `(organization_id, sequence)` becomes a plain index on both databases: the chain head's
  row lock is what keeps sequences unique (traceability/chain.py), and chain verify finds a repeated one;
- the foreign keys that named `custody_events.id` (custody_event_parts, installations, sales) are dropped
  on both databases: those rows are written in the transaction that appends their event, and events are
  never deleted (tests/traceability/test_partitions.py checks no row names a missing event).

SQLite keeps both tables as they were, without those constraints. Later months are created by the job
`traceability.create_partitions` (traceability/partitions.py); this file keeps its own copy of that SQL so
that it means the same thing whenever it runs.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0012parts"
down_revision = ("0008trace", "0009trace")
branch_labels = None
depends_on = None

PARTITIONED = {"custody_events": "occurred_at", "scans": "scanned_at"}
EVENT_REFERENCES = ("custody_event_parts", "installations", "sales")
MONTHS_AHEAD = 3


def _month(moment: datetime, months: int = 0) -> datetime:
    index = moment.year * 12 + moment.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def _definitions(connection, table: str) -> tuple[list[str], list[str]]:
    """Return the CREATE INDEX statements (without primary or unique keys) and the foreign keys of `table`."""
    indexes = connection.execute(
        sa.text(
            "SELECT pg_get_indexdef(indexrelid) FROM pg_index WHERE indrelid = CAST(:t AS regclass)"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conindid = indexrelid) ORDER BY indexrelid"
        ),
        {"t": table},
    ).scalars()
    foreign_keys = connection.execute(
        sa.text(
            "SELECT format('ADD CONSTRAINT %I ', conname) || pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = CAST(:t AS regclass) AND contype = 'f' AND conparentid = 0 ORDER BY conname"
        ),
        {"t": table},
    ).scalars()
    # A partitioned table's index is shown as ON ONLY (without its partitions' indexes): build them all.
    return [index.replace(" ON ONLY ", " ON ") for index in indexes], list(foreign_keys)


def _rebuild(connection, table: str, key: str, partitioned: bool) -> None:
    """Replace `table` by a copy with every row, partitioned by month on `key` or plain again."""
    indexes, foreign_keys = _definitions(connection, table)
    oldest = connection.execute(sa.text(f"SELECT min({key}) FROM {table}")).scalar()  # while it has its index
    old = f"{table}_before_0012parts"
    execute = op.execute
    execute(f"ALTER TABLE {table} RENAME TO {old}")
    for name in connection.execute(
        sa.text("SELECT indexrelid::regclass::text FROM pg_index WHERE indrelid = CAST(:t AS regclass)"), {"t": old}
    ).scalars():
        if name == f"pk_{table}":
            continue
        execute(f"DROP INDEX {name}")
    execute(f"ALTER TABLE {old} DROP CONSTRAINT pk_{table}")
    execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY NONE")
    shape = f" PARTITION BY RANGE ({key})" if partitioned else ""
    execute(f"CREATE TABLE {table} (LIKE {old} INCLUDING DEFAULTS){shape}")
    execute(f"ALTER SEQUENCE {table}_id_seq OWNED BY {table}.id")
    if partitioned:
        now = datetime.now(UTC)
        month = _month(min(oldest, now) if oldest is not None else now)
        while month <= _month(now, MONTHS_AHEAD):
            following = _month(month, 1)
            execute(
                f"CREATE TABLE {table}_p{month:%Y_%m} PARTITION OF {table}"
                f" FOR VALUES FROM ('{month.isoformat()}') TO ('{following.isoformat()}')"
            )
            month = following
        execute(f"CREATE TABLE {table}_default PARTITION OF {table} DEFAULT")
    execute(f"INSERT INTO {table} SELECT * FROM {old}")
    execute(f"DROP TABLE {old}")
    execute(f"ALTER TABLE {table} ADD CONSTRAINT pk_{table} PRIMARY KEY (id{', ' + key if partitioned else ''})")
    for index in indexes:
        execute(index)
    for foreign_key in foreign_keys:
        execute(f"ALTER TABLE {table} {foreign_key}")
    # New tables have no statistics until autovacuum comes by: without them the planner guesses hundreds of rows
    # per id and reads every partition whole for a part's custody history (measured: 125 ms instead of 0.3 ms).
    execute(f"ANALYZE {table}")


def upgrade() -> None:
    for table in EVENT_REFERENCES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_event_id_custody_events", type_="foreignkey")
    with op.batch_alter_table("custody_events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_custody_events_organization_sequence", type_="unique")
        batch_op.create_index("ix_custody_events_organization_sequence", ["organization_id", "sequence"])
    connection = op.get_bind()
    if connection.dialect.name != "postgresql":
        return
    for table, key in PARTITIONED.items():
        _rebuild(connection, table, key, partitioned=True)


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name == "postgresql":
        for table, key in PARTITIONED.items():
            _rebuild(connection, table, key, partitioned=False)
    with op.batch_alter_table("custody_events", schema=None) as batch_op:
        batch_op.drop_index("ix_custody_events_organization_sequence")
        batch_op.create_unique_constraint("uq_custody_events_organization_sequence", ["organization_id", "sequence"])
    for table in EVENT_REFERENCES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_foreign_key(
                f"fk_{table}_event_id_custody_events", "custody_events", ["event_id"], ["id"]
            )
