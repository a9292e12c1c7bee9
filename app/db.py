"""Declarative base, portable column types, engines and sessions, and the SQLite fixes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, MetaData, create_engine, event, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.types import TypeDecorator

from app.errors import MilepostError

T = TypeVar("T")

# Where the app keeps its session factory (app.extensions); the web kit, commands and the worker read it.
SESSIONMAKER_KEY = "milepost.sessionmaker"
# Where it keeps the ReadRouter of the OEM's heavy reads (DATABASE_REPLICA_URL).
READ_ROUTER_KEY = "milepost.read_router"

log = logging.getLogger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator):
    """A timezone-aware timestamp stored in UTC on every database (SQLite keeps no offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a timezone-aware one is required")
        value = value.astimezone(UTC)
        # SQLite stores text; dropping the offset keeps comparisons between stored values lexical-safe.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return as_utc(value) if value is not None else None


def as_utc(value: datetime) -> datetime:
    """Return a stored timestamp as an aware UTC datetime (SQLite keeps UTC without an offset)."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """Base class of every Milepost model."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime()}


def utcnow() -> datetime:
    """Return the current time, timezone-aware, in UTC."""
    return datetime.now(UTC)


# How SQLite transactions begin in this context: IMMEDIATE (the write lock up front) unless the work only reads.
_sqlite_begin: ContextVar[str] = ContextVar("sqlite_begin", default="BEGIN IMMEDIATE")


@contextmanager
def reading_only() -> Iterator[None]:
    """Begin SQLite transactions in this block as DEFERRED: readers share the database and never wait for writers.

    For work that reads (a GET). Should it write after all, SQLite takes the write lock at the first write; if
    another writer committed since this transaction's snapshot, that write fails as "database is locked", which
    `is_retryable` counts as a lost race: the work runs again, then with BEGIN IMMEDIATE.
    """
    token = _sqlite_begin.set("BEGIN")
    try:
        yield
    finally:
        _sqlite_begin.reset(token)


# What the current work is, for the log of long SQLite write transactions (a job's name, a demo step).
_work_label: ContextVar[str] = ContextVar("work_label", default="a request")
# SQLite has one writer at a time: a write transaction held longer than this makes every other writer wait (up to
# the 30 s busy timeout, then a 503), so it is logged as a warning with what held it.
SLOW_WRITE_SECONDS = 2.0


@contextmanager
def work_label(label: str) -> Iterator[None]:
    """Name the work in this block in the log of SQLite write transactions that held the lock too long."""
    token = _work_label.set(label)
    try:
        yield
    finally:
        _work_label.reset(token)


def sqlite_begin_statement() -> str:
    """Return how an SQLite transaction begun now would begin ("BEGIN" or "BEGIN IMMEDIATE")."""
    return _sqlite_begin.get()


def _apply_sqlite_fixes(engine: Engine) -> None:
    # pysqlite on Python 3.11 opens transactions lazily and silently commits around DDL, which breaks
    # SAVEPOINTs and the per-test rollback. Take over transaction control: no implicit BEGIN from the driver,
    # and an explicit BEGIN from SQLAlchemy. Work that writes begins IMMEDIATE, taking the write lock up front
    # so that two workers never deadlock upgrading read locks (the busy timeout makes the second wait its turn);
    # work that only reads begins DEFERRED (reading_only), so a slow page never holds up the others.
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Connection) -> None:
        statement = _sqlite_begin.get()
        asked = time.monotonic()
        connection.exec_driver_sql(statement)
        if statement == "BEGIN IMMEDIATE":
            connection.info["write_lock"] = (time.monotonic(), time.monotonic() - asked, _work_label.get())

    def _on_end(connection: Connection) -> None:
        taken = connection.info.pop("write_lock", None)
        if taken is None:
            return
        since, waited, label = taken
        held = time.monotonic() - since
        if held > SLOW_WRITE_SECONDS or waited > SLOW_WRITE_SECONDS:
            log.warning("SQLite write lock held %.1f s by %s (after waiting %.1f s for it)", held, label, waited)

    event.listen(engine, "commit", _on_end)
    event.listen(engine, "rollback", _on_end)


def make_engine(url: str, **options: Any) -> Engine:
    """Create an engine for `url` with the fixes its dialect needs."""
    if url.startswith("sqlite"):
        options.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **options)
        _apply_sqlite_fixes(engine)
        return engine
    # A pooled connection the server closed (a restart, pg_terminate_backend) is found by a SELECT 1 at checkout,
    # unless the caller runs its work again on a fresh connection itself (the web server's requests do:
    # app.web.transaction) and saves the round trip.
    options.setdefault("pool_pre_ping", True)
    return create_engine(url, **options)


def make_sessionmaker(bind: Engine | Connection) -> sessionmaker[Session]:
    """Return a session factory; bound to a connection, sessions join its transaction via SAVEPOINTs."""
    if isinstance(bind, Connection):
        return sessionmaker(bind=bind, expire_on_commit=False, join_transaction_mode="create_savepoint")
    return sessionmaker(bind=bind, expire_on_commit=False)


# SQLSTATEs of failures that a fresh attempt of the same work can get past: a serialization failure and a
# deadlock on PostgreSQL (the other transaction won), and a unique violation (a double click inserted the
# same row first; the re-run sees it and answers 409 or reuses it).
RETRYABLE_SQLSTATES = frozenset({"40001", "40P01", "23505"})


def is_retryable(error: BaseException) -> bool:
    """Tell whether `error` is a lost race that the same work, run again from the start, may get past."""
    original = getattr(error, "orig", error)
    state = getattr(original, "sqlstate", None) or getattr(original, "pgcode", None)
    if state is not None:
        return state in RETRYABLE_SQLSTATES
    # SQLite has no SQLSTATE; its unique-constraint message is stable across versions. "database is locked"
    # after the busy timeout is a deferred (reading_only) transaction that wrote after another writer committed.
    if isinstance(error, OperationalError) and "database is locked" in str(original):
        return _sqlite_begin.get() != "BEGIN IMMEDIATE"
    return isinstance(error, IntegrityError) and "UNIQUE constraint failed" in str(original)


def keep_only_kept_writes(session: Session, error: MilepostError) -> None:
    """Roll back what the failed work wrote, then re-apply the writes its error asked to keep."""
    session.rollback()
    for write in error.kept_writes:
        write(session)
    if error.kept_writes:
        session.flush()


def run_in_transaction(make_session: Callable[[], Session], work: Callable[[Session], T], retries: int = 1) -> T:
    """Run `work` in a fresh session and commit once; retry a lost race; keep only an error's kept writes."""
    for attempt in range(retries + 1):
        with make_session() as session:
            try:
                result = work(session)
                session.commit()
                return result
            except MilepostError as error:
                keep_only_kept_writes(session, error)
                session.commit()
                raise
            except DBAPIError as error:
                session.rollback()
                if attempt == retries or not is_retryable(error):
                    raise
    raise AssertionError("unreachable")


def commit_checkpoint(session: Session) -> None:
    """Commit a long run's work so far inside its transaction owner's run (the demo that the worker builds, a job's
    chunk: JobContext.commit).

    SQLite has one write lock: a transaction of minutes would outlast every other writer's busy timeout. Only work
    that may stop between two checkpoints checkpoints: a job whose every chunk leaves consistent data and whose next
    run carries on, or the demo, which is rebuilt from scratch when a step fails."""
    session.commit()


def checkpoint_of(track: Callable[..., Any]) -> Callable[[], None]:
    """Return where a demo seeder's work so far is committed: its `track`'s checkpoint in the worker's build, which
    commits as it goes; a no-op in one transaction (`milepost demo`, the tests).

    The build's object lives in the shell (milepost sits above the domains), so it is found by name:
    tests/test_demo_steps.py checks that the names still match."""
    return getattr(track, "checkpoint", None) or _nothing


def due_checkpoint_of(track: Callable[..., Any]) -> Callable[[], None]:
    """Like checkpoint_of, but commits only once the build's checkpoint interval has passed: for a seeder's inner
    loop that does not walk its items through `track` (a simulated clock, an evaluation between two runs)."""
    return getattr(track, "due", None) or _nothing


def _nothing() -> None:
    return None


def is_postgresql(session: Session) -> bool:
    """Tell whether the session talks to PostgreSQL (for the few dialect-specific fast paths)."""
    return session.get_bind().dialect.name == "postgresql"


def stamp_once(session: Session, row: Any, column: str, value: Any) -> bool:
    """Set `row`'s `column` to `value` only if it is still NULL (one conditional UPDATE); tell whether this caller
    did it. Two workers claiming the same row (a touchpoint to take in, a text to send) never both get it."""
    model = type(row)
    result = session.execute(
        update(model)
        .where(model.id == row.id, getattr(model, column).is_(None))
        .values({column: value})
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return False
    set_committed_value(row, column, value)
    return True


class ReadRouter:
    """Sessions for the OEM's heavy reads (coverage, scan statistics, EPCIS export, the activity log) on the read
    replica (DATABASE_REPLICA_URL, a streaming-replication standby) while it answers; the caller reads from the
    primary otherwise. A replica that fails to connect is left alone for `retry_seconds`, so that a standby
    being rebuilt costs one failed connection attempt per worker per period, not one per request.

    What a replica session reads may lag the primary by the replication delay (milliseconds on a healthy
    standby): these reads are reports, never the basis of a write.
    """

    def __init__(
        self,
        replica: Callable[[], Session] | None,
        retry_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.replica, self.retry_seconds, self.clock = replica, retry_seconds, clock
        self.down_until = 0.0
        self.engine: Engine | None = None

    def replica_session(self) -> Session | None:
        """Return a session on the replica if one is set and answering, else None (read from the primary)."""
        if self.replica is None or self.clock() < self.down_until:
            return None
        session = self.replica()
        try:
            session.connection()
        except OperationalError as error:
            session.close()
            self.down_until = self.clock() + self.retry_seconds
            log.warning("read replica unavailable, reading from the primary for %gs: %s", self.retry_seconds, error)
            return None
        return session

    def dispose(self) -> None:
        """Close the replica's pooled connections."""
        if self.engine is not None:
            self.engine.dispose()


def make_read_router(replica_url: str, retry_seconds: float = 30.0) -> ReadRouter:
    """Return the router of heavy reads: to `replica_url` when given, else nowhere (the primary serves them)."""
    if not replica_url:
        return ReadRouter(None)
    # A short connect timeout: a standby that does not answer should cost a report a moment, not a minute.
    engine = make_engine(replica_url, connect_args={"connect_timeout": 2})
    router = ReadRouter(sessionmaker(bind=engine, expire_on_commit=False), retry_seconds)
    router.engine = engine
    return router
