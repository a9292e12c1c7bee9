"""The base database layer: SQLite's transaction modes (readers deferred, writers immediate) as served."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import OperationalError

from app.db import make_engine, reading_only, sqlite_begin_statement


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
