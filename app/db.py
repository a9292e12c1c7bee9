"""Declarative base, portable column types, engines and sessions, and the SQLite fixes."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from sqlalchemy import JSON, DateTime, MetaData, create_engine, event
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction
from sqlalchemy.types import TypeDecorator

from app.errors import MilepostError

T = TypeVar("T")

# Where the app keeps its session factory (app.extensions); the web kit, commands and the worker read it.
SESSIONMAKER_KEY = "milepost.sessionmaker"

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


def _apply_sqlite_fixes(engine: Engine) -> None:
    # pysqlite on Python 3.11 opens transactions lazily and silently commits around DDL, which breaks
    # SAVEPOINTs and the per-test rollback. Take over transaction control: no implicit BEGIN from the driver,
    # and an explicit BEGIN IMMEDIATE from SQLAlchemy. IMMEDIATE takes the write lock up front so that two
    # workers never deadlock upgrading read locks; the busy timeout makes the second one wait its turn.
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
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def make_engine(url: str, **options: Any) -> Engine:
    """Create an engine for `url` with the fixes its dialect needs."""
    if url.startswith("sqlite"):
        options.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **options)
        _apply_sqlite_fixes(engine)
        return engine
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
    # SQLite has no SQLSTATE; its unique-constraint message is stable across versions.
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


def is_postgresql(session: Session) -> bool:
    """Tell whether the session talks to PostgreSQL (for the few dialect-specific fast paths)."""
    return session.get_bind().dialect.name == "postgresql"


class json_array(GenericFunction):  # noqa: N801 - SQL functions are spelled in lower case, like func.*
    """A JSON array of the given values, in each dialect's spelling: several columns of a related row come
    back as one value (on PostgreSQL a scalar subquery of them plans in a fraction of a join's time)."""

    type = JSON()
    inherit_cache = True


@compiles(json_array, "postgresql")
def _json_array_postgresql(element: json_array, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_build_array({compiler.process(element.clause_expr.element, **kw)})"


@compiles(json_array, "sqlite")
def _json_array_sqlite(element: json_array, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_array({compiler.process(element.clause_expr.element, **kw)})"


@dataclass
class _DriverForm:
    """A statement as one dialect's driver takes it, with the dialect's own value conversions."""

    sql: str
    positional: tuple[str, ...] | None
    defaults: dict[str, Any]
    bind_processors: dict[str, Callable[[Any], Any]]
    columns: list[Any]
    row: type
    # Some result processors depend on the driver's type codes, known from the first execution's description.
    result_processors: tuple[Callable[[Any], Any] | None, ...] | None = None


class DriverStatement:
    """A Core statement run straight on the session's DBAPI cursor, for the few hottest statements.

    For a one-row indexed statement SQLAlchemy's per-execution work (execution context, parameter set-up,
    result metadata, and the column descriptions it makes psycopg build) costs more than the database does.
    This compiles the statement once per dialect and keeps its typing: the dialect's own bind and result
    processors convert the values, so rows carry the same Python values a Result would. It runs inside the
    session's transaction; errors are the driver's (a scan has no expected database errors to translate).
    """

    def __init__(self, statement: Executable) -> None:
        self.statement = statement
        self._forms: dict[str, _DriverForm] = {}

    def _form(self, dialect: Dialect) -> _DriverForm:
        form = self._forms.get(dialect.name)
        if form is None:
            form = self._forms[dialect.name] = self._compile(dialect)
        return form

    def _compile(self, dialect: Dialect) -> _DriverForm:
        compiled = self.statement.compile(dialect=dialect)
        binds = compiled.binds.items()
        columns = list(getattr(self.statement, "selected_columns", ()))
        return _DriverForm(
            sql=compiled.string,
            positional=tuple(compiled.positiontup) if compiled.positional else None,
            defaults={name: bind.value for name, bind in binds if not bind.required},
            bind_processors={
                name: processor
                for name, bind in binds
                if (processor := bind.type.dialect_impl(dialect).bind_processor(dialect)) is not None
            },
            columns=columns,
            row=namedtuple("DriverRow", [str(column.key) for column in columns], rename=True),
        )

    def _run(self, session: Session, parameters: Mapping[str, Any]) -> tuple[Any, _DriverForm, Dialect]:
        connection = session.connection()
        form = self._form(connection.dialect)
        values = {**form.defaults, **parameters}
        for name, process in form.bind_processors.items():
            values[name] = process(values[name])
        cursor = connection.connection.dbapi_connection.cursor()
        cursor.execute(form.sql, tuple(values[name] for name in form.positional) if form.positional else values)
        return cursor, form, connection.dialect

    def first(self, session: Session, parameters: Mapping[str, Any]) -> Any | None:
        """Run the statement and return its first row (a named tuple of the selected columns), or None."""
        cursor, form, dialect = self._run(session, parameters)
        if form.result_processors is None:
            form.result_processors = tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, description[1])
                for column, description in zip(form.columns, cursor.description, strict=True)
            )
        values = cursor.fetchone()
        cursor.close()
        if values is None:
            return None
        return form.row._make(
            process(value) if process is not None else value
            for process, value in zip(form.result_processors, values, strict=True)
        )

    def execute(self, session: Session, parameters: Mapping[str, Any]) -> None:
        """Run the statement for its effect."""
        cursor, _, _ = self._run(session, parameters)
        cursor.close()
