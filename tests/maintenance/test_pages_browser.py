"""The driver sees "maintenance due" on the truck page in headless chromium on a phone (zh) and books it at a shop
ahead on the road that offers maintenance."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from network.models import Booking
from tests.browser import sign_in
from tests.factories import PASSWORD, make_driver, make_vehicle
from tests.maintenance.factories import make_plan
from tests.network.factories import load_highways, make_shop


def test_driver_sees_maintenance_due_and_books_at_a_shop_ahead(open_page, committed_session):
    routes = load_highways(committed_session)
    route = routes.by_code["G4"]
    here = route.locate(34.75, 113.65).km
    for km, services in ((15, ["repair"]), (25, ["maintenance", "repair"]), (60, ["maintenance"])):
        lat, lon = route.offset_point(here + km, 0.3)
        make_shop(committed_session, routes, name=f"G4 K+{km}", lat=lat, lon=lon, services=services)
    behind_lat, behind_lon = route.offset_point(here - 10, 0.3)
    make_shop(committed_session, routes, name="Behind", lat=behind_lat, lon=behind_lon, services=["maintenance"])
    make_plan(committed_session)
    user, customer = make_driver(committed_session)
    truck = make_vehicle(
        committed_session, owner=customer, plate="豫A12345", model="HOWO TX 6x4", sale_date=date.today(),
        odometer_km=4300,
    )  # fmt: skip
    committed_session.commit()
    page = open_page(geolocation={"latitude": 34.75, "longitude": 113.65}, permissions=["geolocation"])
    sign_in(page, user.phone, PASSWORD)

    page.goto(f"/crm/vehicles/{truck.vin}")
    section = page.locator("#maintenance")
    assert "保养到期" in section.locator(".maintenance-due").inner_text()
    assert "即将到期" in section.locator(".maintenance-item[data-service=engine_oil]").inner_text()
    assert "还剩 700 公里" in section.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    with page.expect_navigation():
        section.locator("[data-action=book-maintenance]").click()

    # Heading as the moving truck's phone reports it (headless chromium reports none of its own).
    page.goto(page.url + "&heading=180")
    with page.expect_navigation():
        page.click("[data-locate]")
    assert page.locator("#maintenance-shops .shop-name").all_inner_texts() == ["G4 K+25", "G4 K+60"]
    assert page.locator("#maintenance-shops").inner_text().count("前方") >= 2
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    with page.expect_navigation():
        page.locator("[data-action=book-shop]").first.click()

    assert page.locator("select[name=service]").input_value() == "maintenance"
    assert page.locator("select[name=vin]").input_value() == truck.vin
    page.locator(".slots input[type=radio]:not([disabled])").first.check()
    with page.expect_navigation():
        page.click(".booking-form button[type=submit]")

    assert "/bookings/mine" in page.url
    committed_session.expire_all()
    [booking] = committed_session.scalars(select(Booking).where(Booking.vehicle_id == truck.id)).all()
    assert (booking.service, booking.shop.name) == ("maintenance", "G4 K+25")
