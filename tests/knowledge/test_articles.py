"""Articles: sanitized Markdown, links to codes, and Chinese search on both databases."""

from __future__ import annotations

import pytest

from app.errors import Forbidden, InvalidInput, NotFound
from app.security import Role
from knowledge.articles import articles_for_code, get_article, render_markdown, save_article, search_articles
from knowledge.codes import parse_code
from tests.factories import make_driver, make_user

OIL = {"zh": "机油压力低怎么办", "en": "What to do about low oil pressure"}
OIL_BODY = {"zh": "## 先停车\n\n机油压力过低时**立即停车**，检查机油尺。", "en": "Stop and check the dipstick."}
UREA = {"zh": "尿素结晶的处理", "en": "Urea crystals"}
UREA_BODY = {"zh": "冬天尿素管路容易结晶，请到服务站清洗。", "en": "Clean the lines."}


@pytest.fixture
def oem(session):
    return make_user(session, Role.OEM_ADMIN)


def test_markdown_is_rendered_and_scripts_are_removed():
    html = render_markdown(
        "**粗体** <script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)> [ok](https://a.cn)"
    )

    assert "<strong>粗体</strong>" in html
    assert "<script" not in html and "<img" not in html and 'href="javascript' not in html
    assert "&lt;script&gt;" in html
    assert 'href="https://a.cn"' in html and "noopener" in html


def test_articles_linked_to_an_spn_show_for_every_fmi_of_it(session, oem):
    article = save_article(session, oem, "low-oil-pressure", OIL, OIL_BODY, codes=["SPN 100"], publish=True)
    save_article(session, oem, "draft-one", OIL, OIL_BODY, codes=["100/1"])

    assert articles_for_code(session, parse_code("100/1")) == [article]
    assert articles_for_code(session, parse_code("110/0")) == []


@pytest.mark.parametrize(
    ("query", "slug"), [("机油压力", "low-oil-pressure"), ("尿素", "urea-crystals"), ("OIL", "low-oil-pressure")]
)
def test_chinese_search_finds_published_articles(session, oem, query, slug):
    save_article(session, oem, "low-oil-pressure", OIL, OIL_BODY, codes=["100/1"], publish=True)
    save_article(session, oem, "urea-crystals", UREA, UREA_BODY, codes=["3361"], publish=True)
    save_article(session, oem, "unpublished", UREA, UREA_BODY | {"zh": "机油压力 尿素"})

    found = search_articles(session, query)

    assert [article.slug for article in found] == [slug]


def test_drafts_are_for_oem_staff_and_only_the_oem_writes(session, oem):
    save_article(session, oem, "draft-one", OIL, OIL_BODY)
    driver, _customer = make_driver(session)

    assert get_article(session, "draft-one", oem).slug == "draft-one"
    with pytest.raises(NotFound):
        get_article(session, "draft-one", driver)
    with pytest.raises(Forbidden):
        save_article(session, driver, "mine", OIL, OIL_BODY)


@pytest.mark.parametrize(
    ("slug", "title", "codes", "field"),
    [("Bad Slug", OIL, [], "slug"), ("ok", {"en": "x"}, [], "title.zh"), ("ok", OIL, ["SPN 999999"], "spn")],
)
def test_article_input_errors_name_the_field(session, oem, slug, title, codes, field):
    with pytest.raises(InvalidInput) as raised:
        save_article(session, oem, slug, title, OIL_BODY, codes=codes)

    assert raised.value.field == field
