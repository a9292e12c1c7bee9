"""Hot-path SQL helpers of the scan path: a Core statement run straight on the DBAPI cursor, and json_array."""

from __future__ import annotations

from collections import namedtuple
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import JSON, Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import GenericFunction


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
    session's transaction. The driver's errors are raised as SQLAlchemy's, as a Result's would be, and a
    connection the server closed is invalidated: the request is then run again on a fresh connection
    (app.web.transaction), which is what lets the engine go without a pre-ping per checkout.
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
        columns = list(getattr(self.statement, "exported_columns", ()))  # a SELECT's or a RETURNING's
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

    def _run(self, session: Session, parameters: Mapping[str, Any]) -> tuple[Any, _DriverForm, Connection]:
        connection = session.connection()
        form = self._form(connection.dialect)
        values = {**form.defaults, **parameters}
        for name, process in form.bind_processors.items():
            values[name] = process(values[name])
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            cursor.execute(form.sql, tuple(values[name] for name in form.positional) if form.positional else values)
        except connection.dialect.loaded_dbapi.Error as error:
            raise _translated(connection, form.sql, error) from error
        return cursor, form, connection

    def _rows(self, session: Session, parameters: Mapping[str, Any], many: bool) -> list:
        cursor, form, connection = self._run(session, parameters)
        dialect = connection.dialect
        if form.result_processors is None:
            form.result_processors = tuple(
                column.type.dialect_impl(dialect).result_processor(dialect, description[1])
                for column, description in zip(form.columns, cursor.description, strict=True)
            )
        try:
            fetched = cursor.fetchall() if many else [value for value in [cursor.fetchone()] if value is not None]
        except dialect.loaded_dbapi.Error as error:
            raise _translated(connection, form.sql, error) from error
        cursor.close()
        return [
            form.row._make(
                process(value) if process is not None else value
                for process, value in zip(form.result_processors, values, strict=True)
            )
            for values in fetched
        ]

    def first(self, session: Session, parameters: Mapping[str, Any]) -> Any | None:
        """Run the statement and return its first row (a named tuple of the selected columns), or None."""
        rows = self._rows(session, parameters, many=False)
        return rows[0] if rows else None

    def all(self, session: Session, parameters: Mapping[str, Any]) -> list:
        """Run the statement and return its rows (named tuples of the selected columns)."""
        return self._rows(session, parameters, many=True)

    def execute(self, session: Session, parameters: Mapping[str, Any]) -> None:
        """Run the statement for its effect."""
        cursor, _, _ = self._run(session, parameters)
        cursor.close()


def _translated(connection: Connection, sql: str, error: Exception) -> Exception:
    """Return the driver's `error` as SQLAlchemy's, invalidating `connection` if the error says it is lost."""
    dialect = connection.dialect
    lost = dialect.is_disconnect(error, connection.connection.dbapi_connection, None)
    if lost:
        connection.invalidate(error)
    base = dialect.loaded_dbapi.Error
    return DBAPIError.instance(sql, None, error, base, connection_invalidated=lost, dialect=dialect)
