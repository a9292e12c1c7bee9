"""Knowledge pages: the driver's lookup ending at shops ahead (equal to the search API's), the buttons, the
driver's own entry, articles, the OEM's trends and the booked shop's fault and fix entry."""

from __future__ import annotations

import re

import pytest

from app.security import Role
from knowledge.articles import save_article
from knowledge.entries import install_shipped_entries
from knowledge.models import VehicleFault
from tests.factories import PAGE_CSRF, make_driver, make_user, make_vehicle, sign_in_client
from tests.knowledge.factories import make_booking
from tests.network.factories import load_highways, make_shop

ZHENGZHOU = "lat=34.75&lon=113.65&heading=180"


@pytest.fixture
def g4_shops(session):
    """Shops ahead on G4 south of Zhengzhou: five that do engine work, one closed, one without engine work,
    and one behind the truck."""
    install_shipped_entries(session)
    routes = load_highways(session)
    route = routes.by_code["G4"]
    here = route.locate(34.75, 113.65).km
    engine = ["engine", "repair"]
    shops = {}
    for name, km, fields in (
        ("engine 10", 10, {"services": engine}),
        ("closed 15", 15, {"services": engine, "open_24h": False, "opening_hours": {}}),
        ("tyres 18", 18, {"services": ["tyres"]}),
        ("engine 25", 25, {"services": engine}),
        ("engine 40", 40, {"services": engine}),
        ("engine 55", 55, {"services": engine}),
        ("behind 20", -20, {"services": engine}),
    ):
        lat, lon = route.offset_point(here + km, 0.3)
        shops[name] = make_shop(session, routes, name=name, lat=lat, lon=lon, **fields)
    return shops


def _shop_codes(page: str) -> list[str]:
    return re.findall(r'data-shop-code="([^"]+)"', page)


def test_lookup_page_shows_the_three_shops_ahead_the_search_api_gives(client, g4_shops):
    api = client.get(f"/api/v1/shops/ahead?{ZHENGZHOU}&within_km=150&service=engine&open_now=1").get_json()

    page = client.get(f"/faults?code=SPN+100+FMI+1&{ZHENGZHOU}").text

    assert _shop_codes(page) == [item["code"] for item in api["items"][:3]]
    assert _shop_codes(page) == [g4_shops[name].code for name in ("engine 10", "engine 25", "engine 40")]


def test_a_stop_code_shows_a_red_banner_with_roadside_help_first(client, g4_shops):
    page = client.get(f"/faults?code=100/1&{ZHENGZHOU}").text

    assert 'class="verdict red" data-verdict="stop"' in page
    assert "立即停车" in page
    assert page.index('data-action="roadside"') < page.index('data-action="ask-oem"')
    assert 'href="/service/new?code=100%2F1"' in page


def test_a_service_soon_code_is_amber_and_an_unknown_one_grey_with_ask_the_oem(client, g4_shops):
    amber = client.get("/faults?code=3251/0").text
    unknown = client.get("/faults?code=SPN+520000+FMI+4").text

    assert 'class="verdict amber"' in amber
    assert 'class="verdict grey" data-verdict="unknown"' in unknown
    assert 'data-action="ask-oem" href="/service/new?code=520000%2F4"' in unknown


def test_a_bad_code_is_400_with_the_message_on_the_page(client):
    response = client.get("/faults?code=SPN+600000+FMI+3")

    assert response.status_code == 400
    assert 'role="alert"' in response.text


def test_the_lookup_page_is_chinese_by_default_and_english_on_switch(client, g4_shops):
    assert "这个故障码是什么意思" in client.get("/faults?code=100/1").text
    assert "What does this fault code mean?" in client.get("/faults?lang=en").text


def test_a_signed_in_driver_gets_a_roadside_form_with_the_code_attached(client, session, g4_shops):
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    sign_in_client(client, user)

    page = client.get(f"/faults?code=100/1&{ZHENGZHOU}").text

    assert 'action="/assistance"' in page
    assert f'name="vin" value="{vehicle.vin}"' in page
    assert re.search(r'name="description" value="[^"]*SPN 100 FMI 1', page)


def test_a_driver_saves_the_code_on_own_truck(client, session, g4_shops):
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    sign_in_client(client, user)

    response = client.post("/faults/record", data={"csrf_token": PAGE_CSRF, "code": "100/1", "vin": vehicle.vin})

    assert response.status_code == 302
    assert session.query(VehicleFault).filter_by(vehicle_id=vehicle.id, code="100").one().first_source == "driver"


def test_a_driver_cannot_save_a_code_on_someone_elses_truck(client, session):
    user, _customer = make_driver(session)
    sign_in_client(client, user)

    response = client.post(
        "/faults/record", data={"csrf_token": PAGE_CSRF, "code": "100/1", "vin": make_vehicle(session).vin}
    )

    assert response.status_code == 404


def test_article_page_renders_sanitized_markdown(client, session):
    oem = make_user(session, Role.OEM_ADMIN)
    save_article(session, oem, "oil", {"zh": "机油"}, {"zh": "**停车** <script>x()</script>"}, publish=True)

    page = client.get("/articles/oil").text

    assert "<strong>停车</strong>" in page and "<script>x()" not in page


def test_trends_page_is_for_the_oem(client, session):
    sign_in_client(client, make_user(session, Role.SHOP_STAFF))
    assert client.get("/faults/trends").status_code == 403

    sign_in_client(client, make_user(session, Role.OEM_ADMIN))
    assert client.get("/faults/trends").status_code == 200


def test_the_booked_shop_enters_codes_and_records_the_fix_on_its_page(client, session):
    booking = make_booking(session, status="checked_in")
    sign_in_client(client, make_user(session, Role.SHOP_STAFF, organization=booking.shop.organization))

    client.post(f"/faults/bookings/{booking.id}", data={"csrf_token": PAGE_CSRF, "codes": "3251/0\nP20EE"})
    fault = session.query(VehicleFault).filter_by(vehicle_id=booking.vehicle_id, code="3251").one()
    client.post(
        f"/faults/bookings/{booking.id}",
        data={"csrf_token": PAGE_CSRF, "action": "fix", "fault_id": str(fault.id), "kind": "cleaning"},
    )
    bad = client.post(
        f"/faults/bookings/{booking.id}", data={"csrf_token": PAGE_CSRF, "action": "fix", "fault_id": "9" * 40}
    )

    session.refresh(fault)
    assert fault.active is False
    assert bad.status_code == 400


def test_another_shop_does_not_see_the_booking_page(client, session):
    booking = make_booking(session)
    sign_in_client(client, make_user(session, Role.SHOP_STAFF))

    assert client.get(f"/faults/bookings/{booking.id}").status_code == 404


@pytest.mark.parametrize("heading", ["nan", "inf", "north", "1e999"])
def test_a_bad_heading_is_400_on_the_page(client, g4_shops, heading):
    response = client.get(f"/faults?code=100/1&lat=34.75&lon=113.65&heading={heading}")

    assert response.status_code == 400


def test_the_shop_lists_its_trucks_in_for_fault_entry(client, session):
    booking = make_booking(session, status="checked_in")
    other = make_booking(session, status="checked_in")
    sign_in_client(client, make_user(session, Role.SHOP_STAFF, organization=booking.shop.organization))

    page = client.get("/faults/shop").text

    assert f"/faults/bookings/{booking.id}" in page
    assert f"/faults/bookings/{other.id}" not in page


def test_a_driver_sees_the_active_faults_of_own_trucks_only(client, session):
    from knowledge.codes import parse_code
    from knowledge.faults import record_telematics_report

    user, customer = make_driver(session)
    own = make_vehicle(session, owner=customer, plate="豫A11111")
    oem = make_user(session, Role.OEM_ADMIN)
    record_telematics_report(session, oem, own, [parse_code("3251/0")])
    record_telematics_report(session, oem, make_vehicle(session), [parse_code("110/0")])
    sign_in_client(client, user)

    page = client.get("/faults").text

    assert "SPN 3251 FMI 0" in page and "豫A11111" in page
    assert "SPN 110 FMI 0" not in page
