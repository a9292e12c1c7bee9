"""The statements a piece of code sends on one connection, for tests that hold a path to its statement count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.orm import Session

from traceability.driver_sql import DriverStatement


def statements_of(on: Session | Connection, call: Callable[[], Any]) -> tuple[Any, list[str]]:
    """Run `call`; return its result and the statements sent on the session's (or this) connection meanwhile, in
    order: SQLAlchemy's, and those run straight on the driver's cursor (traceability.driver_sql, in SQLAlchemy's
    default spelling)."""
    connection = on.connection() if isinstance(on, Session) else on
    statements: list[str] = []

    def keep(_connection, _cursor, statement, *_args) -> None:
        statements.append(statement)

    run = DriverStatement._run

    def run_and_keep(self: DriverStatement, session: Session, parameters: Any) -> Any:
        if session.connection() is connection:
            statements.append(str(self.statement))
        return run(self, session, parameters)

    event.listen(connection, "before_cursor_execute", keep)
    DriverStatement._run = run_and_keep
    try:
        result = call()
    finally:
        DriverStatement._run = run
        event.remove(connection, "before_cursor_execute", keep)
    return result, statements
