"""Every page a role opens in Chinese says everything in Chinese: no English word is left over, no raw code.

The pages are those of the crawl (tests/test_get_crawl.py) on the shared demo: every GET page, as every role.
The crawl renders each page once for both rules (reading writes nothing; a Chinese page is Chinese) and holds
it to `english_words` here; this file keeps the rule itself and the error pages' language.
What may stay in Latin letters: codes and identifiers (digits or capitals only, or inside <code>), text marked
lang="en" (the API document's English title), and the few terms Chinese readers use as they are (ALLOWED)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

# Latin words a Chinese page may show: the language switch, the product's name, and terms used as they are
# (https, Bearer, zip).
# Capitals-only words (VIN, OEM, API, SPN) and codes with digits are never counted.
ALLOWED = {"English", "https", "Bearer", "zip", "Milepost"}
SHOWN_ATTRIBUTES = ("placeholder", "title", "aria-label", "alt")
SKIPPED_TAGS = {"script", "style", "code", "pre", "textarea", "svg"}
WORD = re.compile(r"(?<![\w./:@#-])[A-Za-z][a-z]{2,}(?![\w/:@-])")


class VisibleText(HTMLParser):
    """Collect the text a reader sees, leaving out scripts, styles, code and what is marked as English (lang="en")."""

    VOID = frozenset({"area", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"})

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self.open: list[tuple[str, bool]] = []

    @property
    def skipping(self) -> bool:
        return bool(self.open) and self.open[-1][1]

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        skip = self.skipping or tag in SKIPPED_TAGS or attributes.get("lang") == "en"
        if not skip:
            self.parts += [value for name, value in attrs if name in SHOWN_ATTRIBUTES and value]
        if tag not in self.VOID:
            self.open.append((tag, skip))

    def handle_endtag(self, tag):
        while self.open:
            if self.open.pop()[0] == tag:
                break

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def english_words(html: str) -> set[str]:
    """Return the English-looking words a Chinese page shows its reader."""
    parser = VisibleText()
    parser.feed(html)
    return {word for word in WORD.findall(" ".join(parser.parts)) if word not in ALLOWED}


def is_page_rule(rule) -> bool:
    """Tell whether a URL rule serves a page a reader opens (not the API, a static file or the health check)."""
    return not rule.rule.startswith(("/api/v1", "/static", "/healthz")) and "filename" not in rule.arguments


def test_english_words_counts_words_but_not_codes_or_marked_english():
    html = (
        '<p title="Shop">郑州 Zhengzhou · VIN LZZ4F28H7RH417488 · SHOP-ZZ-01 · 6x4 · /bookings · 12 km</p>'
        '<code>offered_after_install</code><span lang="en">List bookings</span><script>var x = "hidden";</script>'
    )

    assert english_words(html) == {"Zhengzhou", "Shop"}


def test_a_service_shop_is_called_fuwuzhan_in_every_catalogue():
    from pathlib import Path

    from babel.messages.pofile import read_po

    root = Path(__file__).resolve().parents[1]
    other_words = re.compile("门店|维修店|维修站")
    found = []
    for path in sorted(root.glob("*/translations/zh/LC_MESSAGES/messages.po")):
        with path.open("rb") as handle:
            found += [
                f"{path.parts[-5]}: {message.string}"
                for message in read_po(handle)
                if other_words.search(message.string or "")
            ]

    assert found == []


@pytest.mark.parametrize(("language", "words"), [("zh", "此地址没有页面"), ("en", "there is no page at this address")])
def test_not_found_page_speaks_the_page_language(client, language, words):
    response = client.get(f"/no-such-page?lang={language}")

    assert response.status_code == 404 and words in response.text
    assert "requested URL" not in response.text


def test_http_errors_say_english_in_the_api_and_chinese_on_pages(app, client):
    from app.web.errors import handle_unexpected

    api = client.post("/api/v1/openapi.json").json
    page = client.post("/healthz?lang=zh").text
    with app.test_request_context("/anything?lang=zh"):
        internal = handle_unexpected(RuntimeError("a bug")).get_data(as_text=True)

    assert api["error"] == {"code": "method_not_allowed", "message": "this address does not take that kind of request"}
    assert "此地址不接受这种请求" in page
    assert "内部错误，已记录" in internal and not english_words(internal)
