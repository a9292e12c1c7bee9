"""Network pages in headless chromium: find, ahead, shop detail and booking, my bookings, console, coverage."""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.db import utcnow
from app.security import Role
from network.models import Booking, BookingStatus
from tests.browser import sign_in
from tests.factories import PASSWORD, make_driver, make_user, make_vehicle
from tests.network.factories import load_highways, make_shop


@pytest.fixture
def g4(committed_session):
    """Routes plus three shops on G4 south of Zhengzhou and one north of it, committed for the live server."""
    routes = load_highways(committed_session)
    route = routes.by_code["G4"]
    zhengzhou = route.locate(34.75, 113.65).km
    shops = {
        name: make_shop(committed_session, routes, name=name, lat=lat, lon=lon)
        for name, (lat, lon) in {
            "South 20": route.offset_point(zhengzhou + 20, 0.3),
            "South 60": route.offset_point(zhengzhou + 60, 0.3),
            "North 30": route.offset_point(zhengzhou - 30, -0.3),
        }.items()
    }
    committed_session.commit()
    return routes, shops


@pytest.fixture
def driver(committed_session):
    """A driver with one truck on record: (user, vehicle)."""
    user, customer = make_driver(committed_session)
    return user, make_vehicle(committed_session, owner=customer, plate="豫A54321")


def test_find_page_lists_nearest_shops_for_a_typed_city(page, g4):
    page.goto("/shops")
    page.fill("input[name=place]", "郑州")

    with page.expect_navigation():
        page.click("#find-form button[type=submit]")

    names = page.locator(".shops .shop-name").all_inner_texts()
    assert names[:3] == ["South 20", "North 30", "South 60"]
    assert page.locator(".map.leaflet-container").count() == 1


def test_find_page_uses_browser_location(open_page, g4):
    page = open_page(geolocation={"latitude": 34.75, "longitude": 113.65}, permissions=["geolocation"])
    page.goto("/shops")

    with page.expect_navigation():
        page.click("[data-locate]")

    assert page.locator(".shops .shop").count() == 3


def test_ahead_page_shows_shops_ahead_on_g4_southbound(page, g4):
    page.goto("/shops/ahead?lat=34.75&lon=113.65&highway=G4&direction=increasing&within_km=100")

    assert page.locator(".shops .shop-name").all_inner_texts() == ["South 20", "South 60"]
    assert "G4" in page.locator(".ahead-summary").inner_text()


def test_ahead_page_reports_bad_input_without_error_page(page, g4):
    page.goto("/shops/ahead?lat=95&lon=113.65&heading=180")

    assert page.locator(".alert").count() == 1


def test_booking_from_shop_page_reaches_my_bookings_and_the_console(open_page, committed_session, g4):
    _routes, shops = g4
    shop = shops["South 20"]
    user, customer = make_driver(committed_session)
    vehicle = make_vehicle(committed_session, owner=customer, plate="豫A12345")
    staff = make_user(committed_session, Role.SHOP_STAFF, organization=shop.organization)
    committed_session.commit()
    driver_page = open_page()
    sign_in(driver_page, user.phone, PASSWORD)
    # Tomorrow's slots: late in the evening (Asia/Shanghai) today has none left to book.
    tomorrow = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(days=1)).date().isoformat()
    driver_page.goto(f"/shops/{shop.code}?date={tomorrow}")

    driver_page.locator(".slot input:not([disabled])").first.check()
    with driver_page.expect_navigation():
        driver_page.click(".booking-form button[type=submit]")

    assert driver_page.locator(".booking").count() == 1
    assert driver_page.locator(".booking").get_attribute("data-status") == "requested"
    staff_page = open_page(locale="en-US")
    sign_in(staff_page, staff.email, PASSWORD)
    staff_page.goto("/console")
    with staff_page.expect_navigation():
        staff_page.click(".booking button[value=confirm]")
    assert staff_page.locator(".booking").get_attribute("data-status") == "confirmed"
    assert vehicle.plate in staff_page.locator(".booking").inner_text()


def test_coverage_page_shows_coverage_gaps_and_recommendations(page, committed_session, g4):
    oem = make_user(committed_session, Role.OEM_ADMIN)
    committed_session.commit()
    sign_in(page, oem.email, PASSWORD)

    page.goto("/coverage?radius_km=50")

    assert float(page.locator(".summary .percent").inner_text().rstrip(" %")) > 0
    assert page.locator("table.gaps tbody tr").count() > 0
    assert page.locator("table.sites tbody tr").count() == 10
    assert page.locator(".map.leaflet-container").count() == 1
    assert "河南" in page.locator("table.provinces").inner_text()
    assert "Henan" not in page.locator("table.provinces").inner_text()


def test_coverage_page_is_for_the_oem(page, committed_session, g4):
    driver, _customer = make_driver(committed_session)
    committed_session.commit()
    sign_in(page, driver.phone, PASSWORD)

    response = page.goto("/coverage")

    assert response.status == 403


def test_pages_switch_to_english(page, g4):
    page.goto("/shops/ahead?lang=en")

    assert page.locator("h1").inner_text() == "Shops ahead on my highway"


def test_my_bookings_page_shows_who_is_coming_to_a_breakdown(page, committed_session, g4, driver):
    from app.config import DEFAULTS
    from network.acceptance import accept_request
    from network.assistance import request_assistance
    from network.search import load_shop_index
    from network.settings import network_settings

    _routes, shops = g4
    user, vehicle = driver
    settings = network_settings(DEFAULTS)
    index = load_shop_index(committed_session)
    job = request_assistance(committed_session, user, vehicle, 34.6, 113.7, "flat tyre", [], index, settings)
    accept_request(committed_session, make_user(committed_session, Role.OEM_ADMIN), job, job.offers[0].shop, settings)
    committed_session.commit()
    sign_in(page, user.phone, PASSWORD)

    page.goto("/bookings/mine?lang=en")

    assert "Coming:" in page.locator(".roadside .assigned").inner_text()


def test_driver_asks_for_roadside_help_and_sees_who_is_coming(open_page, committed_session, g4, driver):
    _routes, shops = g4
    user, vehicle = driver
    staff = make_user(committed_session, Role.SHOP_STAFF, organization=shops["South 20"].organization)
    committed_session.commit()
    driver_page = open_page(geolocation={"latitude": 34.62, "longitude": 113.70}, permissions=["geolocation"])
    sign_in(driver_page, user.phone, PASSWORD)
    driver_page.goto("/")
    driver_page.click(".menu-toggle")  # on a phone the top bar's menu opens first
    with driver_page.expect_navigation():
        driver_page.click("header nav a[href='/assistance']")

    driver_page.click("[data-locate]")
    driver_page.wait_for_function("document.querySelector('#help-form [name=lat]').value !== ''")
    driver_page.select_option("select[name=vin]", vehicle.vin)
    driver_page.fill("textarea[name=description]", "挂车爆胎")
    with driver_page.expect_navigation():
        driver_page.click("#help-form button[type=submit]")

    assert driver_page.locator(".roadside-status").get_attribute("data-status") == "open"
    staff_page = open_page()
    sign_in(staff_page, staff.email, PASSWORD)
    staff_page.goto("/console")
    with staff_page.expect_navigation():
        staff_page.click(".roadside form[action$='/accept'] button")
    driver_page.reload()
    assigned = driver_page.locator(".roadside-status .assigned").inner_text()
    assert "South 20" in assigned
    assert shops["South 20"].phone in assigned
    assert "分钟" in driver_page.locator(".eta").inner_text()
    assert driver_page.evaluate("document.documentElement.scrollWidth") <= 360


def test_roadside_help_with_a_typed_place_and_no_description_says_what_is_missing(page, committed_session, driver):
    committed_session.commit()
    sign_in(page, driver[0].phone, PASSWORD)
    page.goto("/assistance")

    page.fill("input[name=place]", "郑州")
    page.eval_on_selector("textarea[name=description]", "node => node.removeAttribute('required')")
    with page.expect_navigation():
        page.click("#help-form button[type=submit]")

    assert page.locator(".alert").inner_text() == "请描述问题"


def test_my_bookings_links_completed_bookings_to_the_review_form(page, committed_session, g4, driver):
    _routes, shops = g4
    user, vehicle = driver
    start = utcnow() - timedelta(days=2)
    done = Booking(
        shop_id=shops["South 20"].id,
        customer_id=vehicle.owner_id,
        vehicle_id=vehicle.id,
        service="repair",
        start=start,
        end=start + timedelta(hours=1),
        status=BookingStatus.COMPLETED,
        completed_at=start + timedelta(hours=1),
    )
    committed_session.add(done)
    committed_session.commit()
    sign_in(page, user.phone, PASSWORD)
    page.goto("/bookings/mine")

    with page.expect_navigation():
        page.click(".booking[data-status=completed] a.review-link")

    assert page.url.endswith(f"/bookings/{done.id}/review")
    assert page.locator("#review-form").count() == 1


@pytest.mark.parametrize(("language", "expected"), [("zh", "周一-周五 08:00-18:00"), ("en", "Mon-Fri 08:00-18:00")])
def test_shop_page_shows_opening_days_in_the_page_language(client, session, language, expected):
    hours = dict.fromkeys(["mon", "tue", "wed", "thu", "fri"], [["08:00", "18:00"]])
    shop = make_shop(session, open_24h=False, opening_hours=hours)

    response = client.get(f"/shops/{shop.code}?lang={language}")

    assert expected in response.text


def test_find_page_names_an_unknown_city_in_chinese(client, session):
    response = client.get("/shops?place=Atlantis")

    assert "没有叫 'Atlantis' 的城市" in html.unescape(response.text)


def test_oem_desk_assigns_an_escalated_request_and_the_driver_sees_who_is_coming(
    open_page, committed_session, g4, driver
):
    from app.config import DEFAULTS
    from network.assistance import request_assistance
    from network.search import load_shop_index
    from network.settings import network_settings

    user, vehicle = driver
    # Far from every shop: nobody is offered the job, so it goes straight to the OEM desk.
    job = request_assistance(
        committed_session,
        user,
        vehicle,
        31.0,
        91.0,
        "发动机故障",
        [],
        load_shop_index(committed_session),
        network_settings(DEFAULTS),
    )
    oem = make_user(committed_session, Role.OEM_ADMIN)
    committed_session.commit()
    desk = open_page()
    sign_in(desk, oem.email, PASSWORD)
    desk.goto("/")
    desk.click(".menu-toggle")  # on a phone the top bar's menu opens first
    with desk.expect_navigation():
        desk.click("header nav a[href='/assistance/desk']")

    card = desk.locator(f"#job-{job.id}")
    assert "发动机故障" in card.inner_text()
    chosen = card.locator("label.candidate strong").first.inner_text()
    card.locator("input[name=shop]").first.check()
    with desk.expect_navigation():
        card.locator("button[type=submit]").click()

    assert desk.locator("#assigned-notice").count() == 1
    assert desk.locator(f"#job-{job.id}").count() == 0
    driver_page = open_page()
    sign_in(driver_page, user.phone, PASSWORD)
    driver_page.goto(f"/assistance/{job.id}")
    assert chosen in driver_page.locator(".roadside-status .assigned").inner_text()
