"""Simplified Chinese by default, English by switch or Accept-Language, and nothing left untranslated."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from app.security import Role
from tests.factories import make_user, sign_in_client

ROOT = Path(__file__).resolve().parents[2]
# The keywords of the extraction command in babel.cfg / README: gettext plus the domain errors.
KEYWORDS = {
    "_": None,
    "_l": None,
    "gettext": None,
    "ngettext": (1, 2),
    **dict.fromkeys(
        ["InvalidInput", "NotAuthenticated", "Forbidden", "NotFound", "Conflict", "RateLimited", "CountedFailure"]
    ),
}
METHOD_MAP = [("**.py", "app.web.extraction:extract_python_and_api_words"), ("**/templates/**.html", "jinja2")]


def extracted_messages(package: str) -> set[str]:
    """Return every translatable string in `package`'s code and templates."""
    found = set()
    for _filename, _line, message, _comments, _context in extract_from_dir(
        ROOT / package, METHOD_MAP, keywords=KEYWORDS
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


@pytest.mark.parametrize(
    "package",
    [
        "milepost",
        "app",
        "network",
        "traceability",
        "reviews",
        "knowledge",
        "service",
        "community",
        "leads",
        "maintenance",
    ],
)
def test_catalogue_translates_every_string_of_its_package(package):
    with (ROOT / package / "translations/zh/LC_MESSAGES/messages.po").open("rb") as handle:
        catalogue = read_po(handle)
    translated = {message.id for message in catalogue if message.id and message.string and not message.fuzzy}

    missing = extracted_messages(package) - translated

    assert missing == set()


def test_pages_are_chinese_by_default(client):
    response = client.get("/login")

    assert '<html lang="zh-CN">' in response.text
    assert "登录" in response.text


@pytest.mark.parametrize("accept_language", ["zh-CN,zh;q=0.9", "fr-FR", "zh-TW"])
def test_pages_stay_chinese_unless_english_is_preferred(client, accept_language):
    response = client.get("/login", headers={"Accept-Language": accept_language})

    assert "登录" in response.text


@pytest.mark.parametrize("accept_language", ["en", "en-US,en;q=0.9", "en-GB,zh;q=0.5"])
def test_pages_follow_accept_language_english(client, accept_language):
    response = client.get("/login", headers={"Accept-Language": accept_language})

    assert '<html lang="en">' in response.text
    assert "Sign in" in response.text


def test_language_switch_persists_across_pages(client):
    client.get("/login?lang=en")

    response = client.get("/")

    assert '<html lang="en">' in response.text
    assert "Genuine parts and honest shops" in response.text


def test_language_switch_beats_accept_language(client):
    client.get("/?lang=zh", headers={"Accept-Language": "en"})

    response = client.get("/login", headers={"Accept-Language": "en"})

    assert "登录" in response.text


def test_language_switch_ignores_unknown_languages(client):
    response = client.get("/login?lang=xx")

    assert "登录" in response.text


def test_language_switch_link_keeps_other_parameters(client):
    response = client.get("/login?next=/vehicles&lang=zh")

    assert 'href="/login?next=%2Fvehicles&amp;lang=en"' in response.text


def test_error_pages_are_translated(client):
    response = client.post("/logout")

    assert response.status_code == 403
    assert "表单已过期或并非来自本站，请刷新页面" in response.text


def test_wrong_role_page_is_translated(client, session):
    staff = make_user(session, Role.OEM_ADMIN)
    sign_in_client(client, staff)

    response = client.get("/me")

    assert response.status_code == 403
    assert "您的账户角色无权进行此操作" in response.text


def test_error_with_named_details_is_filled_in_for_the_api_and_translated_for_pages(app):
    from app.errors import InvalidInput
    from app.web.i18n import error_text

    error = InvalidInput("book at least %(minutes)s minutes ahead", field="start", minutes=60)

    assert error.to_dict()["error"]["message"] == "book at least 60 minutes ahead"
    with app.test_request_context("/"):
        assert error_text(error) == "请至少提前 60 分钟预约"


def test_no_two_catalogues_translate_the_same_words_differently():
    # Flask-Babel merges every package's catalogue into one: a msgid translated twice shows one package's words
    # on the other's pages ("Open" a shop's hours vs. a service request's status). Same words, same translation;
    # different meanings need different msgids.
    chosen: dict[str, tuple[str, str]] = {}
    conflicts = []
    for po in sorted(ROOT.glob("*/translations/zh/LC_MESSAGES/messages.po")):
        with po.open("rb") as handle:
            for message in read_po(handle):
                if not message.id or not message.string or message.fuzzy:
                    continue
                msgid = message.id if isinstance(message.id, str) else message.id[0]
                text = message.string if isinstance(message.string, str) else message.string[0]
                package = po.relative_to(ROOT).parts[0]
                first = chosen.setdefault(msgid, (package, text))
                if first[1] != text:
                    conflicts.append((msgid, first, (package, text)))

    assert conflicts == []
