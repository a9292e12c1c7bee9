"""The statements a piece of code sends on one connection, for tests that hold a path to its statement count."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, event
from sqlalchemy.orm import Session


def statements_of(on: Session | Connection, call: Callable[[], Any]) -> tuple[Any, list[str]]:
    """Run `call`; return its result and the statements SQLAlchemy sent on the session's (or this) connection
    meanwhile, in order (statements run straight on the driver's cursor are not among them)."""
    connection = on.connection() if isinstance(on, Session) else on
    statements: list[str] = []

    def keep(_connection, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(connection, "before_cursor_execute", keep)
    try:
        result = call()
    finally:
        event.remove(connection, "before_cursor_execute", keep)
    return result, statements
