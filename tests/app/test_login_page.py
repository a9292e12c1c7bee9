"""The sign-in page in a real browser: Chinese first, English on request, and honest about failures."""

from __future__ import annotations

from app.security import Role
from tests.browser import sign_in
from tests.factories import PASSWORD, make_user


def test_login_page_is_chinese_by_default(page):
    page.goto("/login")

    assert page.locator("h1").inner_text() == "登录"
    assert page.locator("html").get_attribute("lang") == "zh-CN"


def test_login_page_switches_to_english_and_stays(page):
    page.goto("/login")

    page.click("a.lang")
    page.goto("/")

    assert page.locator("a.lang").inner_text() == "中文"
    assert page.locator("html").get_attribute("lang") == "en"


def test_login_page_signs_a_user_in(page, committed_session):
    user = make_user(committed_session, Role.DEALER_STAFF, display_name="Dealer Li")
    committed_session.commit()

    sign_in(page, user.email, PASSWORD)

    assert page.url.endswith("/")
    assert "Dealer Li" in page.locator("main").inner_text()
    assert page.locator("header form button").inner_text() == "退出"


def test_login_page_shows_an_error_for_a_wrong_password(page, committed_session):
    user = make_user(committed_session, Role.DEALER_STAFF)
    committed_session.commit()

    page.goto("/login")
    page.fill("input[name=login]", user.email)
    page.fill("input[name=password]", "not-the-password")
    page.click("form.stack button[type=submit]")

    assert page.locator("[role=alert]").inner_text() == "手机号/邮箱或密码错误。"
    assert page.locator("input[name=password]").is_visible()


def test_login_page_fits_a_phone_screen(page):
    page.goto("/login")

    assert page.evaluate("document.documentElement.scrollWidth") <= 360
