"""The one place errors become responses: JSON for the API, a page for browsers."""

from __future__ import annotations

import logging

from flask import Flask, Response, g, jsonify, redirect, render_template, request, url_for
from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy.exc import InterfaceError, OperationalError
from werkzeug.exceptions import HTTPException

from app.db import keep_only_kept_writes
from app.errors import MilepostError, RateLimited

log = logging.getLogger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    503: "unavailable",
}
# What an HTTP error says, in our words (Werkzeug's are English paragraphs): the API gives the English text,
# an error page the reader's language.
HTTP_MESSAGES = {
    400: _l("the request could not be read"),
    403: _l("you may not open this page"),
    404: _l("there is no page at this address"),
    405: _l("this address does not take that kind of request"),
    413: _l("the request body is larger than this service accepts"),
    415: _l("this address does not take that kind of content"),
    429: _l("too many requests; wait a moment and try again"),
    500: _l("internal error; it has been logged"),
    503: _l("the service is briefly unavailable; try again shortly"),
}
# Seconds a caller is asked to wait when the database cannot be reached: a restart or a fail-over takes a few.
DATABASE_RETRY_AFTER = 5


def wants_json() -> bool:
    """Tell whether the caller expects JSON (API paths, or an Accept header that prefers it)."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _respond(status: int, body: dict, problem: MilepostError | None = None) -> Response:
    if wants_json():
        response = jsonify(body)
    elif status == 401 and request.method == "GET":
        # A page that needs a signed-in user sends the browser to the sign-in form and back again.
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
    else:
        response = Response(
            render_template("error.html", status=status, error=problem or body["error"]), mimetype="text/html"
        )
    response.status_code = status
    return response


def handle_domain_error(error: MilepostError) -> Response:
    """Render a domain error after rolling back the request; only the error's kept writes are committed."""
    session = g.get("db_session")
    if session is not None:
        keep_only_kept_writes(session, error)
        session.commit()
    response = _respond(error.status, error.to_dict(), error)
    if isinstance(error, RateLimited):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def handle_http_error(error: HTTPException) -> Response:
    """Render Werkzeug's HTTP errors (404 routes, 405, 413 bodies) in the same shape."""
    status = error.code or 500
    return _respond(status, {"error": {"code": HTTP_CODES.get(status, "error"), "message": _english(status, error)}})


def _english(status: int, error: HTTPException | None = None) -> str:
    """Return the English message of an HTTP status (the msgid, which error pages translate)."""
    if status not in HTTP_MESSAGES:
        return (error.description or error.name) if error is not None else "error"
    with force_locale("en"):
        return str(HTTP_MESSAGES[status])


def handle_database_unavailable(error: OperationalError | InterfaceError) -> Response:
    """Answer 503 with Retry-After when the database is down or unreachable; the pool reconnects by itself."""
    log.warning("database unavailable on %s %s: %s", request.method, request.path, error.orig)
    session = g.get("db_session")
    if session is not None:
        try:
            session.rollback()
        except (OperationalError, InterfaceError):
            session.invalidate()
    response = _respond(503, {"error": {"code": "unavailable", "message": _english(503)}})
    response.headers["Retry-After"] = str(DATABASE_RETRY_AFTER)
    return response


def handle_unexpected(error: Exception) -> Response:
    """Log a bug and answer 500 without leaking internals."""
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _respond(500, {"error": {"code": "internal", "message": _english(500)}})


def register_error_handlers(app: Flask) -> None:
    """Attach the handlers to `app`."""
    app.register_error_handler(MilepostError, handle_domain_error)
    app.register_error_handler(HTTPException, handle_http_error)
    app.register_error_handler(OperationalError, handle_database_unavailable)
    app.register_error_handler(InterfaceError, handle_database_unavailable)
    if not app.testing:
        app.register_error_handler(Exception, handle_unexpected)
