"""Bookings: slots, every booking rule, transitions by the right actors, and no oversold slot under load."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.config import DEFAULTS
from app.crm.models import Vehicle
from app.db import make_sessionmaker, utcnow
from app.security import Role, User
from network.booking import book_slot, first_bookable_day
from network.models import Booking, BookingSlot, Shop
from network.settings import network_settings
from tests.factories import auth_header, make_driver, make_user, make_vehicle
from tests.network.factories import WEEKDAYS, ZONE, make_shop, next_slot
from tests.races import race
from tests.statements import statements_of

SETTINGS = network_settings(DEFAULTS)


def _driver_with_vehicle(session):
    user, customer = make_driver(session)
    return user, make_vehicle(session, owner=customer)


def _book(client, session, shop, user, vehicle, start, service="repair"):
    body = {"shop": shop.code, "vin": vehicle.vin, "service": service, "start": start.isoformat()}
    return client.post("/api/v1/bookings", json=body, headers=auth_header(session, user))


def _count(session, model=Booking) -> int:
    return session.scalar(select(func.count()).select_from(model))


def test_slots_list_remaining_bays(client, session, routes):
    shop = make_shop(session, bays=2)
    start = next_slot()
    user, vehicle = _driver_with_vehicle(session)
    _book(client, session, shop, user, vehicle, start)

    response = client.get(f"/api/v1/shops/{shop.code}/slots?date={start.date().isoformat()}")

    slots = {slot["start"]: slot for slot in response.get_json()["slots"]}
    assert len(slots) == 24
    assert slots[start.isoformat()]["bays_left"] == 1


def test_slots_follow_opening_hours(client, session):
    shop = make_shop(session, open_24h=False, opening_hours=WEEKDAYS, slot_minutes=30)

    response = client.get(f"/api/v1/shops/{shop.code}/slots?date=2026-06-07")  # a Sunday
    weekday = client.get(f"/api/v1/shops/{shop.code}/slots?date=2026-06-08")

    assert response.get_json()["slots"] == []
    assert weekday.get_json()["slots"][0]["start"] == "2026-06-08T08:00:00+08:00"
    assert weekday.get_json()["slots"][-1]["start"] == "2026-06-08T17:30:00+08:00"


@pytest.mark.parametrize("query", ["date=tomorrow", "date=2026-13-01", ""])
def test_slots_reject_bad_date(client, session, query):
    shop = make_shop(session)

    response = client.get(f"/api/v1/shops/{shop.code}/slots?{query}")

    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "date"


def test_book_slot_links_customer_and_vehicle(client, session):
    shop = make_shop(session)
    user, vehicle = _driver_with_vehicle(session)

    response = _book(client, session, shop, user, vehicle, next_slot())

    body = response.get_json()
    assert response.status_code == 201, body
    booking = session.get(Booking, body["id"])
    assert (booking.status, booking.vehicle_id, booking.customer.user_id) == ("requested", vehicle.id, user.id)


def _closed_evening_start():
    day = datetime.now(ZONE).date() + timedelta(days=2)
    while day.weekday() == 6:
        day += timedelta(days=1)
    return datetime(day.year, day.month, day.day, 20, 0, tzinfo=ZONE)


@pytest.mark.parametrize(
    ("case", "status", "field"),
    [
        ("past", 400, "start"),
        ("too_soon", 400, "start"),
        ("too_far", 400, "start"),
        ("misaligned", 400, "start"),
        ("closed", 400, "start"),
        ("naive", 400, "start"),
        ("not_a_time", 400, "start"),
        ("unknown_service", 400, "service"),
        ("service_not_offered", 400, "service"),
        ("someone_elses_vehicle", 404, "vin"),
        ("unknown_shop", 404, "shop"),
        ("full", 409, "start"),
    ],
)
def test_book_slot_rejects(client, session, case, status, field):
    shop = make_shop(session, bays=1, services=["repair", "tyres"])
    hours_shop = make_shop(session, open_24h=False, opening_hours=WEEKDAYS)
    user, vehicle = _driver_with_vehicle(session)
    start = next_slot()
    body = {"shop": shop.code, "vin": vehicle.vin, "service": "repair", "start": start.isoformat()}
    if case == "past":
        body["start"] = (start - timedelta(days=2)).isoformat()
    elif case == "too_soon":
        body["start"] = next_slot(hours_ahead=0).isoformat()
    elif case == "too_far":
        body["start"] = (start + timedelta(days=40)).isoformat()
    elif case == "misaligned":
        body["start"] = (start + timedelta(minutes=20)).isoformat()
    elif case == "closed":
        body.update(shop=hours_shop.code, start=_closed_evening_start().isoformat())
    elif case == "naive":
        body["start"] = start.replace(tzinfo=None).isoformat()
    elif case == "not_a_time":
        body["start"] = "next tuesday"
    elif case == "unknown_service":
        body["service"] = "massage"
    elif case == "service_not_offered":
        body["service"] = "towing"
    elif case == "someone_elses_vehicle":
        _other, other_vehicle = _driver_with_vehicle(session)
        body["vin"] = other_vehicle.vin
    elif case == "unknown_shop":
        body["shop"] = "NOPE"
    elif case == "full":
        other, other_vehicle = _driver_with_vehicle(session)
        assert _book(client, session, shop, other, other_vehicle, start).status_code == 201
    before = _count(session)

    response = client.post("/api/v1/bookings", json=body, headers=auth_header(session, user))

    assert response.status_code == status, response.get_json()
    assert response.get_json()["error"]["field"] == field
    assert _count(session) == before


def test_book_slot_same_vehicle_twice_conflicts(client, session):
    shop = make_shop(session, bays=3)
    user, vehicle = _driver_with_vehicle(session)
    start = next_slot()
    _book(client, session, shop, user, vehicle, start)

    response = _book(client, session, shop, user, vehicle, start)

    assert response.status_code == 409


def test_book_slot_only_for_drivers(client, session):
    shop = make_shop(session)
    _user, vehicle = _driver_with_vehicle(session)
    staff = make_user(session, Role.SHOP_STAFF, organization=shop.organization)
    body = {"shop": shop.code, "vin": vehicle.vin, "service": "repair", "start": next_slot().isoformat()}

    response = client.post("/api/v1/bookings", json=body, headers=auth_header(session, staff))

    assert response.status_code == 403


def _booking_in(client, session, shop, status, start=None):
    user, vehicle = _driver_with_vehicle(session)
    body = _book(client, session, shop, user, vehicle, start or next_slot()).get_json()
    booking = session.get(Booking, body["id"])
    booking.status = status
    session.flush()
    return booking, user


@pytest.mark.parametrize(
    ("action", "start_status", "end_status"),
    [
        ("confirm", "requested", "confirmed"),
        ("reject", "requested", "rejected"),
        ("reject", "confirmed", "rejected"),
        ("check-in", "confirmed", "checked_in"),
        ("complete", "checked_in", "completed"),
        ("cancel", "requested", "cancelled"),
        ("cancel", "confirmed", "cancelled"),
    ],
)
def test_transition_by_the_right_actor(client, session, action, start_status, end_status):
    shop = make_shop(session)
    booking, driver = _booking_in(client, session, shop, start_status)
    actor = driver if action == "cancel" else make_user(session, Role.SHOP_STAFF, organization=shop.organization)

    response = client.post(f"/api/v1/bookings/{booking.id}/{action}", headers=auth_header(session, actor))

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["status"] == end_status


@pytest.mark.parametrize(
    ("action", "start_status"),
    [
        ("complete", "cancelled"),
        ("complete", "requested"),
        ("confirm", "confirmed"),
        ("confirm", "rejected"),
        ("check-in", "completed"),
        ("cancel", "checked_in"),
        ("cancel", "completed"),
        ("no-show", "requested"),
    ],
)
def test_transition_from_wrong_state_conflicts(client, session, action, start_status):
    shop = make_shop(session)
    booking, driver = _booking_in(client, session, shop, start_status)
    actor = driver if action == "cancel" else make_user(session, Role.SHOP_STAFF, organization=shop.organization)

    response = client.post(f"/api/v1/bookings/{booking.id}/{action}", headers=auth_header(session, actor))

    assert response.status_code == 409
    assert session.get(Booking, booking.id).status == start_status


@pytest.mark.parametrize(
    ("action", "who", "status"),
    [
        ("confirm", "driver", 403),
        ("confirm", "other_shop", 404),
        ("complete", "other_driver", 404),
        ("cancel", "staff", 403),
        ("cancel", "other_driver", 404),
        ("confirm", "oem", 200),
    ],
)
def test_transition_by_the_wrong_actor_is_refused(client, session, action, who, status):
    shop = make_shop(session)
    booking, driver = _booking_in(client, session, shop, "requested")
    actor = {
        "driver": lambda: driver,
        "other_shop": lambda: make_user(session, Role.SHOP_STAFF),
        "other_driver": lambda: make_driver(session)[0],
        "staff": lambda: make_user(session, Role.SHOP_STAFF, organization=shop.organization),
        "oem": lambda: make_user(session, Role.OEM_ADMIN),
    }[who]()

    response = client.post(f"/api/v1/bookings/{booking.id}/{action}", headers=auth_header(session, actor))

    assert response.status_code == status


def test_cancel_frees_the_bay(client, session):
    shop = make_shop(session, bays=1)
    start = next_slot()
    booking, driver = _booking_in(client, session, shop, "requested", start)
    client.post(f"/api/v1/bookings/{booking.id}/cancel", headers=auth_header(session, driver))
    other, vehicle = _driver_with_vehicle(session)

    response = _book(client, session, shop, other, vehicle, start)

    assert response.status_code == 201


def test_cancel_after_cut_off_conflicts(client, session):
    shop = make_shop(session)
    booking, driver = _booking_in(client, session, shop, "confirmed")
    booking.start = datetime.now(ZONE) + timedelta(minutes=30)
    session.flush()

    response = client.post(f"/api/v1/bookings/{booking.id}/cancel", headers=auth_header(session, driver))

    assert response.status_code == 409


def test_no_show_after_start(client, session):
    shop = make_shop(session)
    booking, _driver = _booking_in(client, session, shop, "confirmed")
    booking.start = datetime.now(ZONE) - timedelta(minutes=30)
    session.flush()
    staff = make_user(session, Role.SHOP_STAFF, organization=shop.organization)

    response = client.post(f"/api/v1/bookings/{booking.id}/no-show", headers=auth_header(session, staff))

    assert response.get_json()["status"] == "no_show"


def test_list_bookings_shows_each_actor_their_own(client, session):
    shop = make_shop(session)
    other_shop = make_shop(session)
    mine, driver = _booking_in(client, session, shop, "requested")
    _booking_in(client, session, other_shop, "requested")
    staff = make_user(session, Role.SHOP_STAFF, organization=shop.organization)

    as_driver = client.get("/api/v1/bookings", headers=auth_header(session, driver)).get_json()
    as_staff = client.get("/api/v1/bookings", headers=auth_header(session, staff)).get_json()
    as_staff_elsewhere = client.get(f"/api/v1/bookings?shop={other_shop.code}", headers=auth_header(session, staff))

    assert [item["id"] for item in as_driver["items"]] == [mine.id]
    assert [item["id"] for item in as_staff["items"]] == [mine.id]
    assert as_staff_elsewhere.status_code == 403


@pytest.mark.slow
def test_concurrent_bookings_never_oversell(committed_engine):
    threads_count, bays = 32, 3
    maker = make_sessionmaker(committed_engine)
    with maker() as setup:
        shop = make_shop(setup, bays=bays)
        drivers = [_driver_with_vehicle(setup) for _ in range(threads_count)]
        setup.commit()
        shop_id = shop.id
        people = [(user.id, vehicle.id) for user, vehicle in drivers]
    start = next_slot()

    def prepare(session, user_id: int, vehicle_id: int):
        user, vehicle, target = session.get(User, user_id), session.get(Vehicle, vehicle_id), session.get(Shop, shop_id)
        vehicle.owner  # noqa: B018 (load it before the race)
        return lambda: book_slot(session, user, target, vehicle, "repair", start, SETTINGS)

    outcomes = race(maker, prepare, people)

    with maker() as check:
        assert check.scalar(select(func.count()).select_from(Booking).where(Booking.shop_id == shop_id)) == bays
        assert check.scalar(select(BookingSlot.booked).where(BookingSlot.shop_id == shop_id)) == bays
    assert sorted(outcomes) == ["conflict"] * (threads_count - bays) + ["ok"] * bays


def _late_evening(monkeypatch) -> datetime:
    """Pin the clock at 22:30 local: every 24/7 slot left today is inside the minimum notice."""
    midnight = datetime.combine(datetime.now(ZONE).date(), datetime.min.time(), tzinfo=ZONE)
    now = midnight + timedelta(hours=22, minutes=30)
    monkeypatch.setattr("network.booking.utcnow", lambda: now)
    monkeypatch.setattr("network.pages.driver.utcnow", lambda: now)
    return now


def test_the_shop_page_late_at_night_offers_tomorrows_slots(client, session, monkeypatch):
    now = _late_evening(monkeypatch)
    shop = make_shop(session)
    tomorrow = (now + timedelta(days=1)).date().isoformat()
    page = client.get(f"/shops/{shop.code}").text
    assert f'name="date" value="{tomorrow}"' in page
    assert 'type="radio" name="start" value="' + tomorrow in page
    today = client.get(f"/shops/{shop.code}?date={now.date().isoformat()}").text
    assert f'value="{now.date().isoformat()}"' in today and "disabled" in today


def test_a_suspended_shop_page_stays_on_today(client, session, monkeypatch):
    now = _late_evening(monkeypatch)
    shop = make_shop(session, status="suspended")
    assert f'name="date" value="{now.date().isoformat()}"' in client.get(f"/shops/{shop.code}").text


def _occupy(session, shop, until: datetime) -> None:
    """Fill the shop's every bay from an hour ago until `until` with one long booking per bay."""
    for _bay in range(shop.bays):
        _user, vehicle = _driver_with_vehicle(session)
        begin = utcnow() - timedelta(hours=1)
        session.add(
            Booking(shop=shop, customer=vehicle.owner, vehicle=vehicle, service="repair", start=begin, end=until)
        )
    session.flush()


def _booking_reads(session, call):
    """Run `call` and return how many statements it sent that read the bookings table."""
    result, statements = statements_of(session, call)
    return result, len([statement for statement in statements if "FROM bookings" in statement])


def test_a_shop_booked_out_for_days_opens_on_its_first_free_day_in_two_reads(session):
    shop = make_shop(session, bays=1)
    today = datetime.now(ZONE).date()
    free_from = datetime.combine(today + timedelta(days=5), datetime.min.time(), tzinfo=ZONE)
    _occupy(session, shop, free_from)
    day, reads = _booking_reads(session, lambda: first_bookable_day(session, shop, today, SETTINGS))
    assert day == today + timedelta(days=5)
    assert reads <= 2


def test_a_shop_booked_out_for_the_whole_window_stays_on_today_in_two_reads(session):
    shop = make_shop(session, bays=2)
    today = datetime.now(ZONE).date()
    _occupy(session, shop, datetime.combine(today, datetime.min.time(), tzinfo=ZONE) + timedelta(days=60))
    day, reads = _booking_reads(session, lambda: first_bookable_day(session, shop, today, SETTINGS))
    assert day == today
    assert reads <= 2
