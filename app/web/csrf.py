"""CSRF protection for requests authenticated by the session cookie (pages and their fetch calls)."""

from __future__ import annotations

import hmac
import secrets

from flask import request
from flask import session as cookie_session

from app.errors import Forbidden

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
HEADER = "X-CSRF-Token"
FORM_FIELD = "csrf_token"


def csrf_token() -> str:
    """Return the session's CSRF token, creating it on first use."""
    if "csrf" not in cookie_session:
        cookie_session["csrf"] = secrets.token_urlsafe(32)
    return cookie_session["csrf"]


def check_csrf() -> None:
    """Reject an unsafe cookie-authenticated request without the session's CSRF token."""
    if request.method in SAFE_METHODS:
        return
    expected = cookie_session.get("csrf")
    sent = request.headers.get(HEADER) or request.form.get(FORM_FIELD, "")
    if not expected or not sent or not hmac.compare_digest(expected, sent):
        raise Forbidden("the form has expired or did not come from this site; reload the page", field="csrf_token")
