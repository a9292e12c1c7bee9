"""Domain errors and their one mapping to HTTP statuses and error codes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self


class MilepostError(Exception):
    """Base of every error a domain function raises on purpose."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, field: str | None = None, **details: object) -> None:
        # A message may name its details ("book at least %(minutes)s minutes ahead"): the API gets it filled in,
        # pages translate `template` first and then fill it in (app.web.i18n.error_text).
        self.template = message
        self.message = message % details if "%(" in message else message
        super().__init__(self.message)
        self.field = field
        self.details = details
        self.kept_writes: list[Callable[[Any], object]] = []

    def keeping(self, session: Any, write: Callable[[Any], object]) -> Self:
        """Apply `write` to `session` now and again after the failed request's rollback (a counted attempt).

        The transaction owner (a request, a command, a job) rolls back everything else the failed operation
        wrote, then replays these writes alone and commits them.
        """
        write(session)
        self.kept_writes.append(write)
        return self

    def to_dict(self) -> dict:
        """Return the JSON error body of DESIGN.md section 9."""
        body: dict = {"code": self.code, "message": self.message}
        if self.field:
            body["field"] = self.field
        body.update({key: value for key, value in self.details.items() if value is not None})
        return {"error": body}


class InvalidInput(MilepostError):
    """The request names a field whose value cannot be used."""

    status = 400
    code = "invalid"


class NotAuthenticated(MilepostError):
    """No valid credentials came with the request."""

    status = 401
    code = "not_authenticated"


class Forbidden(MilepostError):
    """The actor is known but may not do this to this object."""

    status = 403
    code = "forbidden"


class NotFound(MilepostError):
    """The object does not exist (or the actor may not know that it does)."""

    status = 404
    code = "not_found"


class Conflict(MilepostError):
    """The request does not fit the current state (a state-machine transition, a duplicate)."""

    status = 409
    code = "conflict"


class PayloadTooLarge(MilepostError):
    """The request body is larger than the service accepts."""

    status = 413
    code = "too_large"


class RateLimited(MilepostError):
    """Too many attempts; try again after `retry_after` seconds."""

    status = 429
    code = "rate_limited"

    def __init__(self, message: str, retry_after: int, field: str | None = None) -> None:
        super().__init__(message, field=field, retry_after=retry_after)
        self.retry_after = retry_after


class CountedFailure(MilepostError):
    """A wrong secret (password, activation code): the failed attempt is kept so limits can count it."""

    status = 401
    code = "wrong_secret"
