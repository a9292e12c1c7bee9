"""The driver's fault lookup in headless chromium on a phone: a stop code ends at three shops ahead."""

from __future__ import annotations

from knowledge.entries import install_shipped_entries
from tests.browser import sign_in
from tests.factories import PASSWORD, make_driver, make_vehicle
from tests.network.factories import load_highways, make_shop


def test_driver_enters_spn_100_fmi_1_and_sees_red_and_three_shops_ahead(open_page, committed_session):
    install_shipped_entries(committed_session)
    routes = load_highways(committed_session)
    route = routes.by_code["G4"]
    here = route.locate(34.75, 113.65).km
    for km in (12, 30, 48, 70):
        lat, lon = route.offset_point(here + km, 0.3)
        make_shop(committed_session, routes, name=f"G4 K+{km}", lat=lat, lon=lon, services=["engine", "repair"])
    behind_lat, behind_lon = route.offset_point(here - 10, 0.3)
    make_shop(committed_session, routes, name="Behind", lat=behind_lat, lon=behind_lon, services=["engine"])
    user, customer = make_driver(committed_session)
    make_vehicle(committed_session, owner=customer, plate="豫A12345")
    committed_session.commit()
    page = open_page(geolocation={"latitude": 34.75, "longitude": 113.65}, permissions=["geolocation"])
    sign_in(page, user.phone, PASSWORD)

    # Heading as the moving truck's phone reports it (headless chromium reports none of its own).
    page.goto("/faults?heading=180")
    page.fill("input[name=code]", "SPN 100 FMI 1")
    with page.expect_navigation():
        page.click("[data-locate]")

    banner = page.locator("section.verdict")
    assert banner.get_attribute("data-verdict") == "stop"
    assert "red" in banner.get_attribute("class")
    assert banner.evaluate("element => getComputedStyle(element).backgroundColor") == "rgb(179, 38, 30)"
    assert "立即停车" in banner.inner_text()
    assert page.locator("#fault-shops .shop-name").all_inner_texts() == ["G4 K+12", "G4 K+30", "G4 K+48"]
    assert page.locator("#fault-shops").inner_text().count("前方") == 3
    assert page.locator("[data-action=roadside]").is_visible()
    assert page.locator("[data-action=ask-oem]").get_attribute("href") == "/service/new?code=100%2F1"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
