"""Custody locking: events lock their parts in one global order, so two events never deadlock."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import event, text

from app.db import is_postgresql, make_sessionmaker
from tests.traceability.factories import make_batch
from traceability.commissioning import list_batch_parts
from traceability.custody_locks import load_parts


def _wait_until_blocked(sessions, pid: int, seconds: float = 10.0) -> None:
    """Wait until the backend `pid` waits for a row lock."""
    deadline = time.monotonic() + seconds
    with sessions() as watcher:
        while time.monotonic() < deadline:
            waiting = watcher.scalar(
                text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            )
            if waiting == "Lock":
                return
            time.sleep(0.02)
    raise AssertionError("the second event never waited for a lock")


def test_events_naming_gtins_in_opposite_orders_do_not_deadlock(committed_engine, committed_session):
    if not is_postgresql(committed_session):
        pytest.skip("row locks are a PostgreSQL matter (SQLite serializes writers)")
    first = list_batch_parts(committed_session, make_batch(committed_session, quantity=1))[0]
    second = list_batch_parts(committed_session, make_batch(committed_session, quantity=1))[0]
    low, high = sorted([first, second], key=lambda part: (part.gtin, part.serial))
    pairs = [(low.gtin, low.serial), (high.gtin, high.serial)]
    committed_session.commit()
    sessions = make_sessionmaker(committed_engine)
    results: list[str] = []

    def other_event(pid_box: list) -> None:
        with sessions() as session:
            pid_box.append(session.scalar(text("SELECT pg_backend_pid()")))
            try:
                load_parts(session, list(reversed(pairs)))
                session.commit()
                results.append("ok")
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                results.append(type(getattr(error, "orig", error)).__name__)

    with sessions() as session:
        connection = session.connection()
        started = []

        def after_first_lock(conn, cursor, statement, parameters, context, executemany):
            # The first event holds its first part's lock: now let the other event (reversed order) start.
            if "FOR UPDATE" in statement and not started:
                pid_box: list = []
                thread = threading.Thread(target=other_event, args=(pid_box,))
                started.append(thread)
                thread.start()
                while not pid_box:
                    time.sleep(0.01)
                _wait_until_blocked(sessions, pid_box[0])

        event.listen(connection, "after_cursor_execute", after_first_lock)
        try:
            load_parts(session, pairs)
            session.commit()
            results.append("ok")
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            session.rollback()
            results.append(type(getattr(error, "orig", error)).__name__)
        finally:
            event.remove(connection, "after_cursor_execute", after_first_lock)
        started[0].join()

    assert results == ["ok", "ok"]
