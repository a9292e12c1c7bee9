"""Reviews pages in headless chromium on a phone: review from "my reviews", the score bars, the plaque check."""

from __future__ import annotations

from urllib.parse import urlparse

from app.signing import KeyRing
from reviews.models import CertificationState
from reviews.plaque_codes import plaque_url
from reviews.plaques import issue_plaque
from tests.browser import sign_in
from tests.conftest import TEST_KEYS
from tests.factories import PASSWORD, make_driver
from tests.reviews.factories import make_booking, make_shop


def test_driver_reviews_a_completed_booking(page, committed_session):
    shop = make_shop(committed_session)
    user, customer = make_driver(committed_session)
    make_booking(committed_session, shop, customer)
    committed_session.commit()
    sign_in(page, user.phone, PASSWORD)

    page.goto("/my/reviews")
    page.click("text=写评价")
    for dimension in ("overall", "quality", "price", "timeliness", "honesty"):
        page.check(f"input[name={dimension}][value='5']")
    page.fill("textarea[name=text]", "换刹车片很快，价格透明。")
    with page.expect_navigation():
        page.click("#review-form button[type=submit]")

    assert page.url.endswith(f"/shops/{shop.code}/reviews")
    assert page.locator("#overall-score").inner_text() == "4.17"
    assert "换刹车片很快" in page.locator(".review").first.inner_text()


def plaque_path(session, shop, tier: str) -> str:
    session.add(CertificationState(shop_id=shop.id, tier=tier, kpis={}))
    plaque = issue_plaque(session, KeyRing.from_spec(TEST_KEYS), shop, None, shop.created_at)
    session.commit()
    url = urlparse(plaque_url("http://x", shop.code, plaque.tag))
    return f"{url.path}?{url.query}"


def test_plaque_page_green_and_near_when_location_shared(open_page, committed_session):
    shop = make_shop(committed_session, lat=34.75, lon=113.62)
    path = plaque_path(committed_session, shop, "gold")
    page = open_page(geolocation={"latitude": 34.7505, "longitude": 113.6205}, permissions=["geolocation"])

    page.goto(path)
    colour = page.locator("#plaque-verdict").get_attribute("data-colour")
    with page.expect_navigation():
        page.click("#share-location")

    assert colour == "green"
    assert page.locator("#near-ok").is_visible()


def test_plaque_page_warns_far_away(open_page, committed_session):
    shop = make_shop(committed_session, lat=34.75, lon=113.62)
    path = plaque_path(committed_session, shop, "certified")
    page = open_page(geolocation={"latitude": 35.2, "longitude": 113.62}, permissions=["geolocation"])

    page.goto(path)
    with page.expect_navigation():
        page.click("#share-location")

    assert "50" in page.locator("#far-warning").inner_text()


def test_plaque_page_forged_is_red(page, committed_session):
    shop = make_shop(committed_session)
    path = plaque_path(committed_session, shop, "gold")

    page.goto(path[:-2] + ("00" if not path.endswith("00") else "11"))

    assert page.locator("#plaque-verdict").get_attribute("data-colour") == "red"
    assert page.locator("#plaque-verdict h1").inner_text() == "伪造的认证牌"
