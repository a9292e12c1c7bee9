"""Page tests: a live Milepost server in a thread and Debian's headless chromium driven by Playwright.

The server runs on the test database outside the per-test transaction (another thread cannot see that
transaction), so page tests arrange their data with `committed_session`; the tables are emptied afterwards.
Every page a test opens is held to three rules: no request leaves 127.0.0.1 (pages must work inside China,
where many CDNs are unreachable), no JavaScript error or broken asset, and no server error.

A page test (fixtures in tests/conftest.py; such tests are marked `browser` automatically):

    def test_shop_page_shows_rating(page, committed_session):
        shop = make_shop(committed_session)
        committed_session.commit()

        page.goto(f"/shops/{shop.code}")          # relative to the live server; phone size, zh-CN

        assert "4.6" in page.locator(".rating").inner_text()

`open_page(locale="en-US", viewport=...)` opens more pages (each with its own cookies); `live_server.url`
is the server's origin and also its PUBLIC_BASE_URL; `sign_in(page, login, password)` signs in.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, got_request_exception
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright, Response, Route
from werkzeug.serving import BaseWSGIServer, make_server

CHROMIUM = Path(os.environ.get("MILEPOST_TEST_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
PHONE_VIEWPORT = {"width": 360, "height": 740}
DEFAULT_LOCALE = "zh-CN"
LOCAL_HOST = "127.0.0.1"
# Schemes that never reach the network.
LOCAL_SCHEMES = frozenset({"data", "blob", "about"})
# A page's own assets must load; an error status on a document or a fetch can be the behaviour under test.
ASSET_TYPES = frozenset({"stylesheet", "script", "image", "font", "media"})


class LiveServer:
    """A Milepost app served by werkzeug on 127.0.0.1 and a free port, in a background thread."""

    def __init__(self, build_app: Callable[[str], Flask]) -> None:
        """Bind the port first so the app can be built knowing its own URL (PUBLIC_BASE_URL)."""
        self._server: BaseWSGIServer = make_server(LOCAL_HOST, 0, self._dispatch, threaded=True)
        self.url = f"http://{LOCAL_HOST}:{self._server.server_port}"
        self.app = build_app(self.url)
        self.errors: list[BaseException] = []
        got_request_exception.connect(self._record_error, self.app)
        self._thread = threading.Thread(target=self._server.serve_forever, name="live-server", daemon=True)

    def _dispatch(self, environ: dict, start_response: Callable) -> object:
        response = self.app(environ, start_response)
        # When a browser drops a connection, werkzeug's server can fail while draining the request and never
        # close the response, leaving a static file open (a ResourceWarning, an error here): hand it bytes.
        try:
            return [b"".join(response)]
        finally:
            if hasattr(response, "close"):
                response.close()

    def _record_error(self, _sender: Flask, exception: BaseException, **_extra: object) -> None:
        self.errors.append(exception)

    def start(self) -> LiveServer:
        """Start serving."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the app's database connections."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
        got_request_exception.disconnect(self._record_error, self.app)
        self.app.extensions["milepost.engine"].dispose()


def is_local_url(url: str) -> bool:
    """Tell whether a request stays on this machine's test server."""
    parts = urlsplit(url)
    return parts.scheme in LOCAL_SCHEMES or parts.hostname == LOCAL_HOST


class PageWatch:
    """Collects what a page must never do: external requests, JavaScript errors, broken assets."""

    def __init__(self) -> None:
        self.external_requests: list[str] = []
        self.page_errors: list[str] = []
        self.console_errors: list[str] = []
        self.broken_assets: list[str] = []

    def attach(self, context: BrowserContext) -> None:
        """Watch every page of `context`; external requests are recorded and aborted, never sent."""
        context.route("**/*", self._route)
        context.on("page", self._watch_page)

    def _route(self, route: Route) -> None:
        url = route.request.url
        if is_local_url(url):
            route.continue_()
        else:
            self.external_requests.append(url)
            route.abort()

    def _watch_page(self, page: Page) -> None:
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("console", self._console)
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        # Chromium logs every HTTP error status as "Failed to load resource"; _response judges those.
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.console_errors.append(message.text)

    def _response(self, response: Response) -> None:
        if response.status >= 400 and response.request.resource_type in ASSET_TYPES:
            self.broken_assets.append(f"{response.status} {response.url}")

    def problems(self) -> list[str]:
        """Return every violation seen, as readable lines."""
        return (
            [f"external request: {url}" for url in self.external_requests]
            + [f"JavaScript error: {text}" for text in self.page_errors]
            + [f"console error: {text}" for text in self.console_errors]
            + [f"broken asset: {text}" for text in self.broken_assets]
        )


def launch_chromium(playwright: Playwright) -> Browser:
    """Start Debian's chromium headless (Playwright never downloads a browser of its own)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)


def new_context(browser: Browser, base_url: str, **options: object) -> BrowserContext:
    """Open a fresh context (own cookies) at a phone's size and in Chinese unless `options` say otherwise."""
    settings: dict = {"viewport": PHONE_VIEWPORT, "locale": DEFAULT_LOCALE, "base_url": base_url}
    settings.update(options)
    return browser.new_context(**settings)


def sign_in(page: Page, login: str, password: str) -> None:
    """Sign in through the login page and wait for the redirect."""
    page.goto("/login")
    page.fill("input[name=login]", login)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("form.stack button[type=submit]")
