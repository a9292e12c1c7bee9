"""Monthly partitions of scans and custody events (PostgreSQL), made ahead by a job; old scan locations
coarsened or dropped by another (both databases); the migration keeps every row and the chain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from app.config import DEFAULTS
from app.db import utcnow
from app.jobs import JobContext, JobRun
from milepost import migrate
from tests.factories import make_organization, make_vehicle
from tests.races import interleave
from tests.traceability.factories import activation_code, keyring_for_tests, make_batch, record, stock_parts
from traceability.chain import verify_chain
from traceability.commissioning import list_batch_parts
from traceability.models import CustodyEvent, Scan
from traceability.partitions import (
    apply_location_retention,
    create_partition,
    create_partitions_ahead,
    list_partitions,
    month_start,
    partition_name,
)
from traceability.settings import LocationRetention
from traceability.tasks import RETENTION_JOB, create_partitions, scan_location_retention

COUNTED = ("scans", "custody_events", "custody_event_parts", "sales", "installations")


@pytest.fixture
def postgresql(session):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("partitions are PostgreSQL's (SQLite keeps plain tables)")
    return session


def _scan(session, scanned_at: datetime, lat: float = 34.75, lon: float = 113.62) -> Scan:
    scan = Scan(
        verdict="genuine", reasons=[], lat=lat, lon=lon, province="河南省", city="郑州市", scanned_at=scanned_at
    )
    session.add(scan)
    session.flush()
    return scan


def _partition_of(session, scan: Scan) -> str:
    return session.scalar(text("SELECT tableoid::regclass::text FROM scans WHERE id = :id"), {"id": scan.id})


def _context(session, now: datetime, **settings: object) -> JobContext:
    return JobContext(session=session, settings={**DEFAULTS, **settings}, now=now)


def _custody(session) -> None:
    """Ship, receive, sell and install parts: rows in every table that names a custody event."""
    parts = list_batch_parts(session, make_batch(session, quantity=3))
    shop = make_organization(session, kind="shop", city="Zhengzhou", lat=34.75, lon=113.62)
    staff = stock_parts(session, parts, shop)
    record(session, staff, "sell", parts[:1], price="120.00")
    vin = make_vehicle(session).vin
    record(session, staff, "install", parts[1:2], vin=vin, activation_code=activation_code(parts[1]))


def _counts(session) -> dict[str, int]:
    return {table: session.scalar(text(f"SELECT count(*) FROM {table}")) for table in COUNTED}


def test_scans_and_custody_events_are_partitioned_by_month_ahead(postgresql):
    now = utcnow()

    kinds = postgresql.execute(
        text("SELECT relname, relkind FROM pg_class WHERE relname IN ('scans', 'custody_events')")
    ).all()

    assert dict(kinds) == {"scans": "p", "custody_events": "p"}
    for table in ("scans", "custody_events"):
        expected = [partition_name(table, month_start(now, months)) for months in range(4)]
        assert set(expected) <= set(list_partitions(postgresql, table))
        assert list_partitions(postgresql, table)[-1] == f"{table}_default"


def test_scan_in_a_new_month_lands_in_its_partition(postgresql):
    later = month_start(utcnow(), 2) + timedelta(days=3)

    scan = _scan(postgresql, later)

    assert _partition_of(postgresql, scan) == partition_name("scans", month_start(later))


def test_row_of_a_month_without_partition_waits_in_default_and_moves_into_it(postgresql):
    month = month_start(utcnow(), 9)
    scan = _scan(postgresql, month + timedelta(hours=5))
    assert _partition_of(postgresql, scan) == "scans_default"

    created = create_partition(postgresql, "scans", month)

    assert created
    assert _partition_of(postgresql, scan) == partition_name("scans", month)
    assert postgresql.scalar(text("SELECT count(*) FROM scans_default")) == 0


def test_partition_job_gives_a_past_month_in_the_default_partition_its_own(postgresql):
    month = month_start(utcnow(), -30)  # before the oldest partition, like a demo's or a back-dated event
    scan = _scan(postgresql, month + timedelta(days=2))

    result = create_partitions(_context(postgresql, utcnow()))

    assert result["created"] == [partition_name("scans", month)]
    assert result["default_rows"] == {"scans": 0, "custody_events": 0}
    assert _partition_of(postgresql, scan) == partition_name("scans", month)


def test_partition_job_creates_months_ahead_and_is_idempotent(postgresql):
    now = month_start(utcnow(), 6) + timedelta(days=10)

    first = create_partitions(_context(postgresql, now, PARTITION_MONTHS_AHEAD=2))
    second = create_partitions(_context(postgresql, now, PARTITION_MONTHS_AHEAD=2))

    months = [month_start(now, offset) for offset in range(3)]
    assert sorted(first["created"]) == sorted(partition_name(t, m) for t in ("scans", "custody_events") for m in months)
    assert second["created"] == []
    assert second["default_rows"] == {"scans": 0, "custody_events": 0}


def test_partition_job_does_nothing_on_sqlite(session):
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite keeps plain tables")

    assert create_partitions_ahead(session, utcnow(), 3) == []


def test_retention_coarsens_only_scans_older_than_its_months(session):
    now = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)
    old = _scan(session, datetime(2025, 11, 20, tzinfo=UTC), lat=34.75, lon=113.62)
    recent = _scan(session, datetime(2025, 12, 2, tzinfo=UTC), lat=34.75, lon=113.62)

    changed, cutoff = apply_location_retention(session, now, LocationRetention(12, "coarsen"))
    again, _cutoff = apply_location_retention(session, now, LocationRetention(12, "coarsen"))

    session.expire_all()
    assert (changed, again, cutoff) == (1, 0, datetime(2025, 12, 1, tzinfo=UTC))
    assert (round(old.lat, 6), round(old.lon, 6), old.city) == (34.8, 113.6, "郑州市")
    assert (recent.lat, recent.lon) == (34.75, 113.62)


def test_retention_drop_removes_coordinates_and_city_and_keeps_the_province(session):
    now = datetime(2026, 12, 3, tzinfo=UTC)
    old = _scan(session, datetime(2025, 6, 1, tzinfo=UTC))
    recent = _scan(session, datetime(2026, 11, 1, tzinfo=UTC))

    changed, _cutoff = apply_location_retention(session, now, LocationRetention(12, "drop"))

    session.expire_all()
    assert changed == 1
    assert (old.lat, old.lon, old.city, old.province) == (None, None, None, "河南省")
    assert recent.city == "郑州市"


def test_retention_job_with_zero_months_keeps_every_location(session):
    scan = _scan(session, datetime(2020, 1, 1, tzinfo=UTC))

    result = scan_location_retention(_context(session, utcnow(), SCAN_LOCATION_MONTHS=0))

    session.expire_all()
    assert (result["scans"], scan.lat) == (0, 34.75)


def test_every_row_naming_a_custody_event_names_a_stored_one(session):
    _custody(session)

    missing = "SELECT count(*) FROM {} t WHERE NOT EXISTS (SELECT 1 FROM custody_events e WHERE e.id = t.event_id)"
    orphans = {
        table: session.scalar(text(missing.format(table)))
        for table in ("custody_event_parts", "installations", "sales")
    }

    assert orphans == {"custody_event_parts": 0, "installations": 0, "sales": 0}
    assert min(_counts(session)[table] for table in ("custody_event_parts", "installations", "sales")) > 0


def test_migration_keeps_every_row_and_the_chain_verifies(postgresql, connection):
    _custody(postgresql)
    for months in (14, 3, 1, 0):
        _scan(postgresql, month_start(utcnow(), -months) + timedelta(days=1))
    before = _counts(postgresql)  # flushed on the connection the migrations run on
    migrate.downgrade(connection=connection, target="0009trace")
    assert postgresql.scalar(text("SELECT relkind FROM pg_class WHERE relname = 'scans'")) == "r"
    assert _counts(postgresql) == before

    migrate.upgrade(connection=connection)

    assert _counts(postgresql) == before
    # Every row naming a part carries its event's month again (migration 0014eventmonth).
    mismatched = text(
        "SELECT count(*) FROM custody_event_parts p JOIN custody_events e ON e.id = p.event_id"
        " WHERE p.occurred_at IS DISTINCT FROM e.occurred_at"
    )
    assert postgresql.scalar(mismatched) == 0
    # Every batch carries its commissioning event's occurred_at again (migration 0016batchmonth).
    commissioned = text(
        "SELECT count(*) FROM batches b JOIN custody_events e ON e.batch_id = b.id AND e.event_type = 'commission'"
        " WHERE b.commissioned_at = e.occurred_at"
    )
    assert postgresql.scalar(commissioned) == postgresql.scalar(text("SELECT count(*) FROM batches")) > 0
    assert postgresql.scalar(text("SELECT count(*) FROM scans_default")) == 0
    oldest = partition_name("scans", month_start(utcnow(), -14))
    assert postgresql.scalar(text(f"SELECT count(*) FROM {oldest}")) == 1
    assert verify_chain(postgresql, keyring_for_tests()) == (before["custody_events"], None)
    assert postgresql.scalar(select(func.max(Scan.id))) < _scan(postgresql, utcnow()).id


def test_chain_verify_reports_a_repeated_sequence_number(session):
    _custody(session)
    columns = [column.name for column in CustodyEvent.__table__.c if column.name != "id"]
    listed = ", ".join(columns)
    # What the dropped unique key used to refuse: a second event under a number the chain already has.
    session.execute(
        text(f"INSERT INTO custody_events ({listed}) SELECT {listed} FROM custody_events WHERE sequence = 1")
    )

    _checked, problem = verify_chain(session, keyring_for_tests())

    assert problem is not None


def test_retention_job_starts_where_its_last_run_under_the_same_setting_stopped(session):
    now = datetime(2026, 12, 3, tzinfo=UTC)
    earlier = _scan(session, datetime(2025, 9, 1, tzinfo=UTC))
    later = _scan(session, datetime(2025, 11, 1, tzinfo=UTC))
    done = {"scans": 0, "cutoff": "2025-10-01T00:00:00+00:00", "setting": [12, "coarsen"]}
    session.add(JobRun(name=RETENTION_JOB, trigger="periodic", state="succeeded", result=done, finished_at=now))
    session.flush()

    result = scan_location_retention(_context(session, now))

    session.expire_all()
    assert result["scans"] == 1
    assert (earlier.lat, round(later.lat, 6)) == (34.75, 34.8)  # the earlier one counts as done


def test_two_workers_making_the_same_partitions_take_turns(committed_engine):
    if committed_engine.dialect.name != "postgresql":
        pytest.skip("partitions are PostgreSQL's")
    now = month_start(utcnow(), 20)
    made: dict[str, list[str]] = {}

    def worker(name: str):
        return lambda session: made.setdefault(name, create_partitions_ahead(session, now, 0))

    try:
        outcomes = interleave(committed_engine, worker("first"), worker("second"))
    finally:
        with committed_engine.begin() as connection:
            for table in ("scans", "custody_events"):
                connection.execute(text(f"DROP TABLE IF EXISTS {partition_name(table, now)}"))

    assert outcomes == {"first": "ok", "second": "ok"}
    assert (len(made["first"]), made["second"]) == (2, [])


def test_migration_stores_each_events_part_rows_in_their_lines_order(postgresql, connection, monkeypatch):
    # Rows written before the application stored them in order (here: the reverse of it), then 0016chainline.
    parts = list_batch_parts(postgresql, make_batch(postgresql, quantity=6))
    stock_parts(postgresql, parts, make_organization(postgresql, kind="dealer", city="Zhengzhou", lat=34.7, lon=113.6))
    lines = "SELECT p.gtin || '|' || p.serial FROM custody_event_parts l JOIN parts p ON p.id = l.part_id"
    stored = lines + " WHERE l.event_id = :id ORDER BY l.ctid"
    events = postgresql.scalars(text("SELECT DISTINCT event_id FROM custody_event_parts")).all()
    for event_id in events:
        rows = postgresql.execute(
            text(
                "SELECT l.part_id, l.occurred_at FROM custody_event_parts l JOIN parts p ON p.id = l.part_id"
                " WHERE l.event_id = :id ORDER BY p.gtin || '|' || p.serial COLLATE \"C\" DESC"
            ),
            {"id": event_id},
        ).all()
        postgresql.execute(text("DELETE FROM custody_event_parts WHERE event_id = :id"), {"id": event_id})
        for part_id, occurred_at in rows:
            postgresql.execute(
                text("INSERT INTO custody_event_parts (event_id, part_id, occurred_at) VALUES (:e, :p, :at)"),
                {"e": event_id, "p": part_id, "at": occurred_at},
            )
    before = _counts(postgresql)
    assert any(
        (order := postgresql.scalars(text(stored), {"id": event_id}).all()) != sorted(order) for event_id in events
    )
    migrate.downgrade(connection=connection, target="0014eventmonth")

    migrate.upgrade(connection=connection)

    assert _counts(postgresql) == before
    for event_id in events:
        order = postgresql.scalars(text(stored), {"id": event_id}).all()
        assert len(order) == 6 and order == sorted(order)
    assert verify_chain(postgresql, keyring_for_tests()) == (before["custody_events"], None)
