"""The page-test harness itself: it catches requests that leave the machine and never sends them."""

from __future__ import annotations

import pytest

from tests.browser import PageWatch, is_local_url


@pytest.mark.parametrize(
    ("url", "local"),
    [
        ("http://127.0.0.1:5000/static/milepost.css", True),
        ("data:image/png;base64,AAAA", True),
        ("about:blank", True),
        ("https://cdn.jsdelivr.net/npm/leaflet.js", False),
        ("http://localhost:5000/", False),
        ("http://127.0.0.1.example.com/", False),
    ],
)
def test_is_local_url_allows_only_the_test_server(url, local):
    assert is_local_url(url) is local


def test_page_watch_records_and_blocks_external_requests(browser):
    context = browser.new_context()
    watch = PageWatch()
    watch.attach(context)
    page = context.new_page()

    page.set_content(
        '<link rel="stylesheet" href="https://fonts.example.com/x.css"><img src="https://cdn.example.com/a.png">'
    )
    context.close()

    assert sorted(watch.external_requests) == ["https://cdn.example.com/a.png", "https://fonts.example.com/x.css"]


def test_page_watch_records_javascript_errors(browser):
    context = browser.new_context()
    watch = PageWatch()
    watch.attach(context)
    page = context.new_page()

    page.set_content("<script>undefinedFunction()</script>")
    context.close()

    assert any("undefinedFunction" in problem for problem in watch.problems())
