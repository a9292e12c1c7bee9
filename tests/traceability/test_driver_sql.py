"""Statements run on the driver keep SQLAlchemy's typing, inside the session's transaction, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from sqlalchemy import bindparam, select
from sqlalchemy.exc import OperationalError

from app.crm.models import Organization
from app.db import make_engine, reading_only, sqlite_begin_statement
from tests.factories import make_organization
from traceability.driver_sql import DriverStatement, json_array
from traceability.models import Scan

SCANS = Scan.__table__
INSERT_SCAN = DriverStatement(
    SCANS.insert().values(
        {name: bindparam(name, type_=SCANS.c[name].type) for name in ("verdict", "reasons", "city", "scanned_at")}
    )
)
READ_SCAN = DriverStatement(
    select(SCANS.c.id, SCANS.c.verdict, SCANS.c.reasons, SCANS.c.scanned_at, SCANS.c.lat).where(
        SCANS.c.city == bindparam("city")
    )
)
SHANGHAI = timezone(timedelta(hours=8))


def test_driver_statement_stores_json_and_timestamps_as_the_orm_reads_them(session):
    scanned_at = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=SHANGHAI)

    INSERT_SCAN.execute(
        session, {"verdict": "suspect", "reasons": ["impossible_travel"], "city": "Xinxiang", "scanned_at": scanned_at}
    )

    stored = session.scalars(select(Scan).where(Scan.city == "Xinxiang")).one()
    assert stored.reasons == ["impossible_travel"]
    assert stored.scanned_at == scanned_at
    assert stored.scanned_at.tzinfo == UTC


def test_driver_statement_rows_equal_sqlalchemy_rows(session):
    scanned_at = datetime(2026, 12, 1, 1, 2, 3, 456789, tzinfo=UTC)
    session.add(Scan(verdict="genuine", reasons=["a", "b"], city="Anyang", scanned_at=scanned_at))
    session.flush()

    row = READ_SCAN.first(session, {"city": "Anyang"})

    expected = session.execute(READ_SCAN.statement, {"city": "Anyang"}).one()
    assert tuple(row) == tuple(expected)
    assert row.reasons == ["a", "b"] and row.lat is None
    assert row.scanned_at == scanned_at and row.scanned_at.tzinfo == UTC


def test_driver_statement_returns_none_without_a_row(session):
    assert READ_SCAN.first(session, {"city": "Nowhere"}) is None


def test_driver_statement_runs_inside_the_session_transaction(session):
    savepoint = session.begin_nested()
    INSERT_SCAN.execute(session, {"verdict": "void", "reasons": [], "city": "Luoyang", "scanned_at": datetime.now(UTC)})

    savepoint.rollback()

    assert READ_SCAN.first(session, {"city": "Luoyang"}) is None


def test_json_array_packs_a_related_row(session):
    make_organization(session, code="PACKED-1", name="Packed", city="Kaifeng", lat=34.8, rating=Decimal("4.25"))
    organizations = Organization.__table__
    statement = select(
        json_array(organizations.c.name, organizations.c.city, organizations.c.lat, organizations.c.rating)
    ).where(organizations.c.code == "PACKED-1")

    packed = session.scalar(statement)

    assert packed == ["Packed", "Kaifeng", 34.8, 4.25]


@pytest.fixture
def sqlite_file(tmp_path, database_url):
    """A file SQLite database (WAL, as served) with one table, on its own engine."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's transaction modes")
    engine = make_engine(f"sqlite:///{tmp_path / 'locks.sqlite3'}")
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE things (id INTEGER PRIMARY KEY)")
    yield engine
    engine.dispose()


def _short_busy_timeout(connection):
    # Fail within a second instead of waiting the served 30 s for a lock that would never come.
    connection.connection.driver_connection.execute("PRAGMA busy_timeout = 1000")
    return connection


def test_sqlite_readers_do_not_wait_for_each_other(sqlite_file):
    with reading_only():
        slow_page = _short_busy_timeout(sqlite_file.connect())
        slow_page.begin()
        slow_page.exec_driver_sql("SELECT count(*) FROM things").scalar()
        other = _short_busy_timeout(sqlite_file.connect())

        with other.begin():
            seen = other.exec_driver_sql("SELECT count(*) FROM things").scalar()

    assert seen == 0
    slow_page.close()
    other.close()


def test_sqlite_writer_is_not_blocked_by_a_reader(sqlite_file):
    with reading_only():
        slow_page = _short_busy_timeout(sqlite_file.connect())
        slow_page.begin()
        slow_page.exec_driver_sql("SELECT count(*) FROM things").scalar()
    writer = _short_busy_timeout(sqlite_file.connect())

    with writer.begin():
        writer.exec_driver_sql("INSERT INTO things (id) VALUES (1)")

    assert slow_page.exec_driver_sql("SELECT count(*) FROM things").scalar() == 0  # its snapshot
    slow_page.close()
    writer.close()


def test_sqlite_writers_still_take_the_write_lock_up_front(sqlite_file):
    first = _short_busy_timeout(sqlite_file.connect())
    first.begin()
    second = _short_busy_timeout(sqlite_file.connect())

    with pytest.raises(OperationalError, match="locked"):
        second.begin()

    first.close()
    second.close()


@pytest.mark.parametrize(("method", "begins"), [("GET", "BEGIN"), ("POST", "BEGIN IMMEDIATE")])
def test_requests_that_read_begin_deferred_and_the_others_immediate(app, client, method, begins):
    app.add_url_rule("/_begins", "begins", sqlite_begin_statement, methods=["GET", "POST"])

    response = client.open("/_begins", method=method)

    assert response.text == begins
