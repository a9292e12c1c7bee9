"""The one check for every redirect target a request names (`?next=`, a form's `next`): this site only."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import url_for

from app.errors import InvalidInput


def safe_next(target: str | None, field: str = "next") -> str:
    """Return `target` when it is a path on this site, else the start page; control characters are a 400.

    Browsers drop tabs and line breaks inside URLs and read a backslash as a slash, so `/%09/evil.example/` and
    `/\\evil.example` would leave the site: a target must be a single-slash path with neither.
    """
    target = target or ""
    if any(ord(char) < 32 or ord(char) == 127 for char in target):
        raise InvalidInput("%(field)s may not contain control characters", field=field)
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or "\\" in target or parts.scheme or parts.netloc:
        return url_for("home")
    return target
