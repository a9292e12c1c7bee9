"""Drivers' Q&A in headless chromium on a phone, in Chinese: ask with a fault code, another driver answers, the
asker accepts."""

from __future__ import annotations

from tests.browser import sign_in
from tests.community.factories import make_poster
from tests.factories import PASSWORD


def test_driver_asks_with_spn_100_fmi_1_another_answers_and_the_asker_accepts(open_page, committed_session):
    asker, helper = make_poster(committed_session), make_poster(committed_session)
    committed_session.commit()
    asking, answering = open_page(), open_page()

    sign_in(asking, asker.phone, PASSWORD)
    asking.goto("/community")
    with asking.expect_navigation():
        asking.click("[data-action=ask]")
    asking.fill("input[name=title]", "机油压力灯亮了还能开吗")
    asking.fill("textarea[name=body]", "高速上仪表报警，油位正常")
    asking.fill("input[name=codes]", "SPN 100 FMI 1")
    with asking.expect_navigation():
        asking.click("#ask-form button[type=submit]")
    question_path = asking.url.split("127.0.0.1", 1)[1].split("/", 1)[1]

    sign_in(answering, helper.phone, PASSWORD)
    answering.goto("/community?code=SPN+100+FMI+1")
    assert answering.locator("#questions .question-title").all_inner_texts() == ["机油压力灯亮了还能开吗"]
    answering.goto("/" + question_path)
    answering.fill("#answer-form textarea[name=body]", "多半是机油压力传感器坏了，先停车检查")
    with answering.expect_navigation():
        answering.click("[data-action=answer]")
    assert answering.locator("[data-action=accept]").count() == 0

    asking.reload()
    with asking.expect_navigation():
        asking.click("[data-action=accept]")

    accepted = asking.locator("#answers .answer.accepted")
    assert "已采纳的回答" in accepted.inner_text()
    assert "多半是机油压力传感器坏了" in accepted.inner_text()
    assert "已解决" in asking.locator("h1").inner_text()
    assert "100/1" in asking.locator(".tags").inner_text()
    assert asking.locator("[data-action=accept]").count() == 0
    assert asking.evaluate("document.documentElement.scrollWidth") <= 360
