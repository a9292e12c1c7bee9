"""Security headers on every response: no framing, no sniffing, no scripts but our own files, no caching of
anything a signed-in person sees, HSTS once the public address is https."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask, Response
from flask import session as cookie_session

from app.web.context import SIGN_IN_KEY, bearer_token


def content_security_policy(map_tile_url: str) -> str:
    """The page policy: scripts only from our origin (templates have no inline script); images may also come
    from the configured map tile server. Inline style attributes stay allowed: the rating bars set their width in
    markup and the map library positions its tiles with style attributes; styles cannot run code."""
    images = ["'self'", "data:"]
    if map_tile_url:
        # Tile URLs may name their subdomains by a template ({s}.tile.example): allow those, nothing else.
        parts = urlsplit(map_tile_url.replace("{s}.", "*."))
        if parts.scheme in ("http", "https") and parts.netloc:
            images.append(f"{parts.scheme}://{parts.netloc}")
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self' 'unsafe-inline'",
            f"img-src {' '.join(images)}",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def install_security_headers(app: Flask) -> None:
    """Add the headers to every response of `app`, including errors."""
    policy = content_security_policy(app.config.get("MAP_TILE_URL", "") or "")
    https = str(app.config.get("PUBLIC_BASE_URL", "")).startswith("https://")

    @app.after_request
    def add_headers(response: Response) -> Response:
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy)
        headers.setdefault("X-Frame-Options", "DENY")
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
        if https:
            headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        # Whoever carries credentials may see personal data: no shared or browser cache keeps it (the back
        # button after signing out on a shared phone must not show it either).
        if bearer_token() or cookie_session.get(SIGN_IN_KEY) or "Set-Cookie" in headers:
            headers["Cache-Control"] = "no-store"
            headers.add("Vary", "Cookie")
        return response
