"""Monthly partitions of scans and custody events on PostgreSQL, and the retention of old scan locations.

Migration 0012parts made `scans` (by `scanned_at`) and `custody_events` (by `occurred_at`) range-partitioned
by UTC month with a default partition; SQLite keeps them as plain tables and everything here is a no-op
there except the retention, which both databases run. docs/scale.md, "Partitions", is the operator's view.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import func, or_, text, update
from sqlalchemy.orm import Session

from app.db import is_postgresql
from traceability.models import Scan
from traceability.settings import LocationRetention

PARTITIONED = {"scans": "scanned_at", "custody_events": "occurred_at"}
# How the migration and this module name partitions: `scans_p2026_05`, `scans_default`.
PARTITION_NAME = re.compile("^(" + "|".join(PARTITIONED) + r")_(?:p\d{4}_\d{2}|default)$")
# Creating a partition briefly locks the default partition; a job that cannot get it soon gives up and tries
# again on its next run rather than queueing every scan behind a long report.
LOCK_TIMEOUT = "5s"
PARTITION_LOCK = 120_012  # the advisory lock of partition maintenance (any constant no other code uses)


def month_start(moment: datetime, months: int = 0) -> datetime:
    """Return the first instant (UTC) of the month `months` after the one holding `moment`."""
    moment = moment.astimezone(UTC)
    index = moment.year * 12 + moment.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partition_name(table: str, month: datetime) -> str:
    """Return the name of `table`'s partition for `month`."""
    return f"{table}_p{month:%Y_%m}"


def parent_table(name: str) -> str:
    """Return the partitioned table a partition belongs to (any other name unchanged)."""
    match = PARTITION_NAME.match(name)
    return match.group(1) if match else name


def is_partitioned(session: Session, table: str = "scans") -> bool:
    """Return whether `table` is a partitioned table (PostgreSQL after migration 0012parts)."""
    if not is_postgresql(session):
        return False
    kind = session.scalar(text("SELECT relkind FROM pg_class WHERE oid = to_regclass(:t)"), {"t": table})
    return kind == "p"


def list_partitions(session: Session, table: str) -> list[str]:
    """Return the names of `table`'s partitions, oldest month first and the default partition last."""
    names = session.scalars(
        text("SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = to_regclass(:t)"), {"t": table}
    )
    return sorted(names, key=lambda name: (name.endswith("_default"), name))


def create_partition(session: Session, table: str, month: datetime) -> bool:
    """Create `table`'s partition for `month` unless it exists; return whether it was created.

    Rows of that month already in the default partition (written while the partition was missing) are moved
    into it: PostgreSQL refuses a new partition whose rows the default partition holds.
    """
    name = partition_name(table, month)
    if session.scalar(text("SELECT to_regclass(:n)"), {"n": name}) is not None:
        return False
    key = PARTITIONED[table]
    bounds = {"low": month, "high": month_start(month, 1)}
    session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    session.execute(text(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"))
    session.execute(
        text(
            f"WITH moved AS (DELETE FROM {table}_default WHERE {key} >= :low AND {key} < :high RETURNING *)"
            f" INSERT INTO {name} SELECT * FROM moved"
        ),
        bounds,
    )
    low, high = (value.isoformat() for value in bounds.values())
    session.execute(text(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM ('{low}') TO ('{high}')"))
    return True


def create_partitions_ahead(
    session: Session, now: datetime, months_ahead: int, since: datetime | None = None
) -> list[str]:
    """Make sure both tables have a partition for this month and each of the next `months_ahead` (and every month
    from `since`'s on, and every month of a row waiting in the default partition); return the ones created (none
    on SQLite, and none when they all exist: the job may run any number of times)."""
    if not is_partitioned(session):
        return []
    # Two workers running the job at once take turns; the second finds the partitions made.
    session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": PARTITION_LOCK})
    created = []
    for table, key in PARTITIONED.items():
        waiting = session.scalars(text(f"SELECT DISTINCT date_trunc('month', {key}, 'UTC') FROM {table}_default"))
        months = {month_start(value) for value in waiting}
        month, last = month_start(min(since or now, now)), month_start(now, months_ahead)
        while month <= last:
            months.add(month)
            month = month_start(month, 1)
        for month in sorted(months):
            if create_partition(session, table, month):
                created.append(partition_name(table, month))
    return created


def analyze_partitioned_tables(session: Session) -> None:
    """Refresh the planner's statistics of both partitioned tables: autovacuum analyzes each partition but never
    the partitioned table itself, whose statistics the planner uses for joins across months."""
    if is_partitioned(session):
        session.execute(text(f"ANALYZE {', '.join(PARTITIONED)}"))


def count_default_rows(session: Session) -> dict[str, int]:
    """Return how many rows each default partition holds (it should stay empty: see docs/scale.md)."""
    if not is_partitioned(session):
        return {}
    return {
        table: session.scalar(text(f"SELECT count(*) FROM (SELECT 1 FROM {table}_default LIMIT 100000) AS rows"))
        for table in PARTITIONED
    }


def _tenth(column):
    return func.round(column * 10) / 10


def apply_location_retention(
    session: Session, now: datetime, retention: LocationRetention, since: datetime | None = None
) -> tuple[int, datetime | None]:
    """Coarsen or drop the locations of scans older than the retention; return how many scans changed and the
    cutoff used (None: retention is off). `since` (the previous run's cutoff) bounds the work to scans not yet
    seen; scans already treated are never written again, so any run may be repeated."""
    if retention.months <= 0:
        return 0, None
    # Whole months, like the partitions: on 3 May with 12 months, every scan before 1 May of last year.
    cutoff = month_start(now, -retention.months)
    statement = update(Scan).where(Scan.scanned_at < cutoff)
    if since is not None:
        statement = statement.where(Scan.scanned_at >= since)
    if retention.mode == "drop":
        statement = statement.where(or_(Scan.lat.is_not(None), Scan.city.is_not(None))).values(
            lat=None, lon=None, city=None
        )
    else:
        statement = statement.where(
            Scan.lat.is_not(None), or_(Scan.lat != _tenth(Scan.lat), Scan.lon != _tenth(Scan.lon))
        ).values(lat=_tenth(Scan.lat), lon=_tenth(Scan.lon))
    result = session.execute(statement.execution_options(synchronize_session=False))
    return result.rowcount, cutoff
