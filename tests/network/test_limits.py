"""Issue 10 rows 7, 14, 19 and 20 (network): one open roadside request per truck, a per-driver cap of open
bookings per shop and day, the customer masked to shops until they have the job, capacity over time intervals
whatever the slot length was, and one truck's concurrent bookings serialized."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from app.config import DEFAULTS, ConfigError
from app.crm.models import Vehicle
from app.security import Role, User
from network.assistance import request_assistance
from network.booking import book_slot
from network.models import AssistanceRequest, Booking, Shop
from network.search import load_shop_index
from network.settings import network_settings
from tests.factories import auth_header, make_driver, make_user, make_vehicle, sign_in_client
from tests.network.factories import ZONE, make_shop
from tests.races import interleave

SETTINGS = network_settings(DEFAULTS)


def _tomorrow_at(hour: int, minute: int = 0) -> datetime:
    return datetime.combine(datetime.now(ZONE).date() + timedelta(days=1), time(hour, minute), tzinfo=ZONE)


def _book(client, session, shop, user, vehicle, start):
    body = {"shop": shop.code, "vin": vehicle.vin, "service": "repair", "start": start.isoformat()}
    return client.post("/api/v1/bookings", json=body, headers=auth_header(session, user))


def _ask(client, session, user, vehicle):
    body = {"lat": 34.75, "lon": 113.65, "vin": vehicle.vin, "description": "flat tyre"}
    return client.post("/api/v1/assistance", json=body, headers=auth_header(session, user))


# Row 7 --------------------------------------------------------------------------------------------------------


def test_a_second_open_roadside_request_of_one_truck_is_409_naming_the_first(client, session):
    make_shop(session, lat=34.76, lon=113.65)
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)

    first = _ask(client, session, user, vehicle)
    second = _ask(client, session, user, vehicle)

    assert first.status_code == 201, first.get_json()
    assert second.status_code == 409
    assert second.get_json()["error"]["field"] == "vin"
    assert str(first.get_json()["id"]) in second.get_json()["error"]["message"]
    assert session.scalar(select(func.count()).select_from(AssistanceRequest)) == 1


def test_a_truck_may_ask_again_once_its_request_is_closed(client, session):
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    first = _ask(client, session, user, vehicle).get_json()
    client.post(f"/api/v1/assistance/{first['id']}/cancel", headers=auth_header(session, user))

    assert _ask(client, session, user, vehicle).status_code == 201


def test_a_driver_may_hold_two_open_bookings_per_shop_and_day(client, session):
    shop = make_shop(session, bays=5)
    user, customer = make_driver(session)
    trucks = [make_vehicle(session, owner=customer) for _ in range(4)]

    made = [_book(client, session, shop, user, trucks[n], _tomorrow_at(9 + n)) for n in range(3)]
    next_day = _book(client, session, shop, user, trucks[3], _tomorrow_at(9) + timedelta(days=1))

    assert [response.status_code for response in made] == [201, 201, 409]
    assert made[2].get_json()["error"]["field"] == "start"
    assert next_day.status_code == 201
    other_driver, other_customer = make_driver(session)
    other = _book(client, session, shop, other_driver, make_vehicle(session, owner=other_customer), _tomorrow_at(14))
    assert other.status_code == 201


def test_a_cancelled_booking_no_longer_counts_against_the_cap(client, session):
    shop = make_shop(session, bays=5)
    user, customer = make_driver(session)
    trucks = [make_vehicle(session, owner=customer) for _ in range(3)]
    first, _second = (_book(client, session, shop, user, trucks[n], _tomorrow_at(9 + n)) for n in range(2))
    client.post(f"/api/v1/bookings/{first.get_json()['id']}/cancel", headers=auth_header(session, user))

    assert _book(client, session, shop, user, trucks[2], _tomorrow_at(12)).status_code == 201


@pytest.mark.parametrize("value", [0, -1, "two"])
def test_the_cap_setting_is_validated(value):
    with pytest.raises(ConfigError, match="BOOKING_MAX_OPEN_PER_SHOP_DAY"):
        network_settings({**DEFAULTS, "BOOKING_MAX_OPEN_PER_SHOP_DAY": value})


def test_a_bad_cap_stops_the_app_at_start_up(database_url, tmp_path, monkeypatch):
    from milepost.factory import create_app
    from tests.conftest import test_settings

    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path))
    with pytest.raises(ConfigError, match="BOOKING_MAX_OPEN_PER_SHOP_DAY"):
        create_app(test_settings(database_url, BOOKING_MAX_OPEN_PER_SHOP_DAY=0))


@pytest.mark.slow
def test_two_concurrent_roadside_requests_of_one_truck_make_one(committed_engine, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("a deterministic interleaving needs PostgreSQL's row locks; SQLite runs writers one at a time")
    from app.db import make_sessionmaker

    with make_sessionmaker(committed_engine)() as setup:
        user, customer = make_driver(setup)
        vehicle = make_vehicle(setup, owner=customer)
        setup.commit()
        user_id, vehicle_id = user.id, vehicle.id

    def ask(session):
        actor, truck = session.get(User, user_id), session.get(Vehicle, vehicle_id)
        request_assistance(session, actor, truck, 34.75, 113.65, "flat tyre", [], load_shop_index(session), SETTINGS)

    outcomes = interleave(committed_engine, ask, ask)

    assert outcomes == {"first": "ok", "second": "conflict"}
    with make_sessionmaker(committed_engine)() as check:
        count = select(func.count()).select_from(AssistanceRequest).where(AssistanceRequest.vehicle_id == vehicle_id)
        assert check.scalar(count) == 1


def test_an_over_long_roadside_description_from_the_page_form_is_a_400_naming_it(client, session):
    # Row 16: the page form reaches the domain without the API schema's 1,000-character limit.
    from app.errors import InvalidInput

    user, customer = make_driver(session)
    truck = make_vehicle(session, owner=customer)

    with pytest.raises(InvalidInput) as refused:
        request_assistance(session, user, truck, 34.75, 113.65, "漏油" * 501, [], load_shop_index(session), SETTINGS)

    assert refused.value.field == "description"
    assert session.scalar(select(func.count()).select_from(AssistanceRequest)) == 0


# Row 14 -------------------------------------------------------------------------------------------------------


def _named_driver(session):
    user, customer = make_driver(session)
    customer.name, customer.phone = "周杰伦", "13800138000"
    session.flush()
    return user, make_vehicle(session, owner=customer)


def test_a_booked_shop_sees_the_customer_masked_until_it_confirms(client, session):
    shop = make_shop(session)
    staff = make_user(session, Role.SHOP_STAFF, organization=shop.organization)
    user, vehicle = _named_driver(session)
    booking_id = _book(client, session, shop, user, vehicle, _tomorrow_at(10)).get_json()["id"]
    headers = auth_header(session, staff)

    before = client.get(f"/api/v1/bookings/{booking_id}", headers=headers).get_json()
    listed = client.get("/api/v1/bookings", headers=headers).get_json()["items"][0]
    sign_in_client(client, staff)
    page_before = client.get("/console").get_data(as_text=True)
    client.post(f"/api/v1/bookings/{booking_id}/confirm", headers=headers)
    after = client.get(f"/api/v1/bookings/{booking_id}", headers=headers).get_json()
    own = client.get(f"/api/v1/bookings/{booking_id}", headers=auth_header(session, user)).get_json()

    assert (before["customer"], before["customer_phone"]) == ("周**", "138****8000")
    assert (listed["customer"], listed["customer_phone"]) == ("周**", "138****8000")
    assert "周**" in page_before and "周杰伦" not in page_before
    assert (after["customer"], after["customer_phone"]) == ("周杰伦", "13800138000")
    assert (own["customer"], own["customer_phone"]) == ("周杰伦", "13800138000")


def test_shops_offered_a_roadside_job_see_the_driver_masked_until_one_takes_it(client, session):
    first, second = make_shop(session, lat=34.76, lon=113.65), make_shop(session, lat=34.77, lon=113.65)
    first_staff = make_user(session, Role.SHOP_STAFF, organization=first.organization)
    second_staff = make_user(session, Role.SHOP_STAFF, organization=second.organization)
    user, vehicle = _named_driver(session)
    request_id = _ask(client, session, user, vehicle).get_json()["id"]

    offered = client.get(f"/api/v1/assistance/{request_id}", headers=auth_header(session, first_staff)).get_json()
    sign_in_client(client, first_staff)
    page = client.get("/console").get_data(as_text=True)
    client.post(f"/api/v1/assistance/{request_id}/accept", headers=auth_header(session, first_staff))
    taken = client.get(f"/api/v1/assistance/{request_id}", headers=auth_header(session, first_staff)).get_json()
    lost = client.get(f"/api/v1/assistance/{request_id}", headers=auth_header(session, second_staff)).get_json()

    assert (offered["driver"], offered["driver_phone"]) == ("周**", "138****8000")
    assert "周杰伦" not in page and "13800138000" not in page
    assert (taken["driver"], taken["driver_phone"]) == ("周杰伦", "13800138000")
    assert (lost["driver"], lost["driver_phone"]) == ("周**", "138****8000")


# Row 19 -------------------------------------------------------------------------------------------------------


def test_a_shorter_slot_length_does_not_let_a_second_truck_into_a_one_bay_hour(client, session):
    shop = make_shop(session, bays=1, slot_minutes=60)
    first_user, first_customer = make_driver(session)
    first_truck = make_vehicle(session, owner=first_customer)
    assert _book(client, session, shop, first_user, first_truck, _tomorrow_at(9)).status_code == 201
    shop.slot_minutes = 30
    session.flush()
    second_user, second_customer = make_driver(session)
    second_truck = make_vehicle(session, owner=second_customer)

    inside = _book(client, session, shop, second_user, second_truck, _tomorrow_at(9, 30))
    slots = client.get(f"/api/v1/shops/{shop.code}/slots?date={_tomorrow_at(9).date().isoformat()}").get_json()
    after = _book(client, session, shop, second_user, second_truck, _tomorrow_at(10))

    assert inside.status_code == 409, inside.get_json()
    assert inside.get_json()["error"]["field"] == "start"
    left = {slot["start"]: slot["bays_left"] for slot in slots["slots"]}
    assert left[_tomorrow_at(9, 30).isoformat()] == 0
    assert left[_tomorrow_at(10).isoformat()] == 1
    assert after.status_code == 201


def test_a_longer_slot_length_counts_the_shorter_bookings_inside_it(client, session):
    shop = make_shop(session, bays=1, slot_minutes=30)
    user, customer = make_driver(session)
    truck = make_vehicle(session, owner=customer)
    assert _book(client, session, shop, user, truck, _tomorrow_at(9, 30)).status_code == 201
    shop.slot_minutes = 60
    session.flush()
    other, other_customer = make_driver(session)

    response = _book(client, session, shop, other, make_vehicle(session, owner=other_customer), _tomorrow_at(9))

    assert response.status_code == 409


# Row 20 -------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_concurrent_bookings_of_one_truck_at_two_shops_make_one(committed_engine, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("a deterministic interleaving needs PostgreSQL's row locks; SQLite runs writers one at a time")
    from app.db import make_sessionmaker

    with make_sessionmaker(committed_engine)() as setup:
        shops = [make_shop(setup), make_shop(setup)]
        user, customer = make_driver(setup)
        vehicle = make_vehicle(setup, owner=customer)
        setup.commit()
        user_id, vehicle_id, shop_ids = user.id, vehicle.id, [shop.id for shop in shops]
    start = _tomorrow_at(10)

    def book_at(shop_id):
        def act(session):
            actor, truck = session.get(User, user_id), session.get(Vehicle, vehicle_id)
            book_slot(session, actor, session.get(Shop, shop_id), truck, "repair", start, SETTINGS)

        return act

    outcomes = interleave(committed_engine, book_at(shop_ids[0]), book_at(shop_ids[1]))

    assert outcomes == {"first": "ok", "second": "conflict"}
    with make_sessionmaker(committed_engine)() as check:
        assert check.scalar(select(func.count()).select_from(Booking).where(Booking.vehicle_id == vehicle_id)) == 1
