"""Refuse, before any view runs, query and form values that no column can store (NUL bytes)."""

from __future__ import annotations

from flask import Flask, request

from app.errors import InvalidInput


def refuse_nul_bytes() -> None:
    """Answer 400 naming the first query or form field that carries a NUL byte.

    PostgreSQL text cannot hold NUL, and a page view that passes one on gets a driver error (a 500) where the
    caller should hear which field was wrong. JSON bodies are checked field by field by the request schemas."""
    for source in (request.args, request.form):
        for key, value in source.items(multi=True):
            if "\x00" in key or "\x00" in value:
                raise InvalidInput("%(field)s: must not contain NUL bytes", field=key.replace("\x00", ""))


def install_input_guard(app: Flask) -> None:
    """Check every request's query and form values before its view."""
    app.before_request(refuse_nul_bytes)
