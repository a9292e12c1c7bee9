"""The request owns its transaction: one commit after the view returns, a rollback on error, one retry."""

from __future__ import annotations

import logging

from flask import Flask, g
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import DBAPIError

from app.db import is_retryable, keep_only_kept_writes
from app.errors import MilepostError

log = logging.getLogger(__name__)


def commit_request() -> None:
    """Commit the request's session, if it opened one."""
    session = g.get("db_session")
    if session is not None:
        session.commit()


def discard_request_writes(error: MilepostError | None = None) -> None:
    """Roll back what the request wrote so far, keeping only `error`'s kept writes (a counted attempt).

    A page that catches a domain error to show it in its form calls this; the request still commits once at
    the end, so the kept writes (and nothing else of the failed operation) are stored.
    """
    session = g.get("db_session")
    if session is None:
        return
    if error is None:
        session.rollback()
    else:
        keep_only_kept_writes(session, error)


def _reset_request() -> None:
    session = g.get("db_session")
    if session is not None:
        session.rollback()
        # Objects loaded by the failed attempt may describe rows the winner changed: load them afresh.
        session.expunge_all()
    g.pop("actor", None)


class TransactionalFlask(Flask):
    """Flask whose every view runs in the request's transaction: committed once when the view returns.

    Views and domain functions never commit. A view that fails with a domain error is rolled back by the
    error handler (app.web.errors), which keeps only the error's kept writes. A view that loses a race (a
    unique violation from a double click, a serialization failure or a deadlock) is run once more from the
    start; domain functions are written to be re-run (they read before they write).
    """

    def dispatch_request(self) -> ResponseReturnValue:  # type: ignore[override]
        try:
            value = super().dispatch_request()
            commit_request()
            return value
        except DBAPIError as error:
            if not is_retryable(error):
                raise
            log.info("retrying %s after a lost race: %s", g.get("endpoint_name", "request"), error.orig)
            _reset_request()
        value = super().dispatch_request()
        commit_request()
        return value
