"""The one concurrency harness of the tests: several sessions prepare, wait for each other, then act at once.

Races on PostgreSQL are also written as deterministic interleavings (a second session blocked on a row lock,
see `wait_until_blocked`); this harness is for "N people press the button at the same moment".
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from app.db import make_sessionmaker
from app.errors import Conflict


def race(maker: sessionmaker, prepare: Callable[..., Callable[[], object]], arguments: list[tuple]) -> list[str]:
    """Run one thread per argument tuple, all acting at once; return "ok", "conflict" or the error for each.

    Each thread opens its own session, calls `prepare(session, *arguments)` to load what it needs and get
    the action, ends that read transaction (on SQLite it would hold the write lock), waits for the others,
    then acts and commits. An error other than a Conflict is returned as its repr, so an assertion on the
    outcomes shows it instead of a thread dying silently.
    """
    barrier = threading.Barrier(len(arguments))
    outcomes: list[str] = []

    def attempt(*values: object) -> None:
        with maker() as session:
            act = prepare(session, *values)
            session.commit()
            barrier.wait()
            try:
                act()
                session.commit()
                outcomes.append("ok")
            except Conflict:
                session.rollback()
                outcomes.append("conflict")
            except Exception as error:  # noqa: BLE001 - reported as the outcome the test asserts on
                session.rollback()
                outcomes.append(repr(error))

    threads = [threading.Thread(target=attempt, args=values) for values in arguments]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes


def wait_until_blocked(engine: Engine, timeout: float = 10.0) -> None:
    """Return once another connection waits for a lock (PostgreSQL), or after a moment (SQLite serializes)."""
    if engine.dialect.name != "postgresql":
        time.sleep(0.3)
        return
    deadline = time.monotonic() + timeout
    with engine.connect() as watcher:
        while time.monotonic() < deadline:
            waiting = watcher.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            )
            watcher.rollback()
            if waiting:
                return
            time.sleep(0.02)
    raise AssertionError("the second session never waited for the lock")


def interleave(
    engine: Engine, first: Callable[[Session], object], second: Callable[[Session], object], timeout: float = 5.0
) -> dict[str, str]:
    """Run two writers in a fixed order: `first` acts and holds its transaction open until `second`, started
    after it, waits on one of its locks; then `first` commits and `second` finishes. Return "ok", "conflict"
    or the error for each.

    Without a lock the second never waits, so `first` fails with the harness's "never waited" error and the
    outcome shows the missing lock instead of a flaky pass.
    """
    maker = make_sessionmaker(engine)
    acted = threading.Event()
    outcomes: dict[str, str] = {}

    def run(name: str, action: Callable[[Session], object]) -> None:
        if name == "second":
            acted.wait(timeout)
        with maker() as session:
            try:
                action(session)
                session.flush()
                if name == "first":
                    acted.set()
                    wait_until_blocked(engine, timeout)
                session.commit()
                outcomes[name] = "ok"
            except Conflict:
                session.rollback()
                outcomes[name] = "conflict"
            except BaseException as error:  # noqa: BLE001 - reported as the outcome the test asserts on
                session.rollback()
                outcomes[name] = repr(error)
            finally:
                acted.set()

    threads = [threading.Thread(target=run, args=pair) for pair in (("first", first), ("second", second))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return outcomes
