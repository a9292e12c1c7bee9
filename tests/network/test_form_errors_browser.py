"""An error on a long form is scrolled into view on a phone (milepost/static/forms.js), not left below the fold."""

from __future__ import annotations

from network.highways import list_route_cities


def test_ahead_page_scrolls_the_missing_position_message_into_view(page):
    wuhan = next(city for city in list_route_cities()["G4"] if city.name_zh == "武汉")

    page.goto(f"/shops/ahead?towards={wuhan.key}")
    page.wait_for_function("window.scrollY > 0")
    box = page.locator("main .alert[role=alert]").bounding_box()

    assert "缺少您的位置" in page.locator("main .alert[role=alert]").inner_text()
    assert box["y"] >= 0 and box["y"] + box["height"] <= page.viewport_size["height"]
