"""The request owns its transaction: one commit after the view returns, a rollback on error, one retry."""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import nullcontext

from flask import Flask, g, request
from flask.typing import ResponseReturnValue
from sqlalchemy.exc import DBAPIError

from app.db import is_retryable, keep_only_kept_writes, reading_only, work_label
from app.errors import MilepostError
from app.security import remembered_password_checks
from app.web.csrf import SAFE_METHODS

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


def reads_first(view: Callable) -> Callable:
    """Mark a view that reads at length before a short write (a sign-in checks a slow password hash, then writes
    its token): on SQLite its first attempt begins DEFERRED, so it takes the write lock only for the write; if
    another writer committed in between, it runs once more with the lock (the password's answer remembered)."""
    view.reads_first = True  # type: ignore[attr-defined]
    return view


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
    start; domain functions are written to be re-run (they read before they write). So is a view that met a
    connection the server had closed (a restart, an idle connection ended): its transaction died with the
    connection, and the web server's engine keeps no pre-ping (milepost.server). A connection lost at COMMIT is not run
    again (the commit may have happened): that request is the 503 of app.web.errors.
    """

    def dispatch_request(self) -> ResponseReturnValue:  # type: ignore[override]
        # On SQLite a GET reads in a DEFERRED transaction, so slow pages never take the write lock; the retry of
        # a GET that wrote after all (a scan) and lost the lock begins IMMEDIATE. So does a view that reads first.
        view = self.view_functions.get(request.endpoint or "")
        deferred = request.method in SAFE_METHODS or getattr(view, "reads_first", False)
        with remembered_password_checks(), work_label(f"{request.method} {request.path}"):
            with reading_only() if deferred else nullcontext():
                committing = False
                try:
                    value = super().dispatch_request()
                    committing = True
                    commit_request()
                    return value
                except DBAPIError as error:
                    # Asked here, inside the attempt: whether a lost lock is a race depends on how it began.
                    if not (is_retryable(error) or (error.connection_invalidated and not committing)):
                        raise
                    lost = error
            log.info("retrying %s after: %s", g.get("endpoint_name", "request"), lost.orig)
            _reset_request()
            value = super().dispatch_request()
            commit_request()
            return value
