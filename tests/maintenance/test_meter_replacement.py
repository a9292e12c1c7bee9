"""A replaced odometer (a new instrument cluster) starts a new meter: readings after it are judged against the new
meter only, and every next-due km moves with it, so the truck's plan keeps its distance to the next service."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import select

from app.crm.models import ActivityEntry, Vehicle
from app.db import make_sessionmaker, utcnow
from app.errors import Conflict, Forbidden, InvalidInput
from app.security import Role, User
from maintenance.meters import MAX_KM_PER_DAY, current_meter
from maintenance.models import MeterKind, Status, VehicleSchedule
from maintenance.replacement import replace_meter
from maintenance.schedule import ensure_schedule, list_due, reset_item
from network.models import Booking, BookingStatus
from tests.factories import auth_header, make_driver, make_user, make_vehicle
from tests.maintenance.factories import ZONE, at, make_plan, read
from tests.network.factories import make_shop
from tests.races import interleave


def _replace(session, actor, truck, new_value, day, old_value=None, kind=MeterKind.KM):
    moment = at(day, 15)
    return replace_meter(
        session,
        actor,
        truck,
        kind,
        new_value,
        moment,
        old_value=old_value,
        now=moment,
        max_km_per_day=MAX_KM_PER_DAY,
        zone=ZONE,
    )


def _checked_in_at(session, shop, truck):
    begin = utcnow() - timedelta(minutes=30)
    booking = Booking(
        shop=shop, customer=truck.owner, vehicle=truck, service="repair", start=begin, end=begin + timedelta(hours=1),
        status=BookingStatus.CHECKED_IN,
    )  # fmt: skip
    session.add(booking)
    session.flush()
    return booking


def test_readings_after_a_replacement_count_from_the_new_meter(session):
    oem = make_user(session, Role.OEM_ADMIN)
    truck = make_vehicle(session, odometer_km=None)
    read(session, truck, 412_000, date(2026, 5, 1))

    _replace(session, oem, truck, 20, date(2026, 5, 2), old_value=412_300)
    later = read(session, truck, 950, date(2026, 5, 3))

    assert current_meter(session, truck, MeterKind.KM) == 950
    assert truck.odometer_km == 950
    assert not later.flagged
    with pytest.raises(InvalidInput) as refused:
        read(session, truck, 10, date(2026, 5, 4))
    assert "950" in refused.value.message


def test_a_late_reading_of_the_old_meter_is_judged_against_the_old_meter(session):
    oem = make_user(session, Role.OEM_ADMIN)
    truck = make_vehicle(session, odometer_km=None)
    read(session, truck, 412_000, date(2026, 5, 1))
    _replace(session, oem, truck, 20, date(2026, 5, 5), old_value=413_000)

    kept = read(session, truck, 412_500, date(2026, 5, 3))

    assert kept.value == 412_500
    assert current_meter(session, truck, MeterKind.KM) == 20
    with pytest.raises(InvalidInput):
        read(session, truck, 411_000, date(2026, 5, 4))


def test_the_next_service_keeps_its_distance_on_the_new_meter(session):
    make_plan(session)
    oem = make_user(session, Role.OEM_ADMIN)
    truck = make_vehicle(session, model="HOWO TX", sale_date=date(2026, 1, 10), odometer_km=None)
    ensure_schedule(session, truck, ZONE, utcnow())
    [item] = truck_items = list_due(session, truck, date(2026, 4, 1), ZONE)
    reset_item(session, truck, item.item, done_km=400_000, done_hours=None, done_on=date(2026, 4, 1), source="shop")
    read(session, truck, 427_000, date(2026, 5, 1))
    before = list_due(session, truck, date(2026, 5, 1), ZONE)[0]

    _replace(session, oem, truck, 0, date(2026, 5, 2), old_value=427_500)
    read(session, truck, 1_000, date(2026, 5, 3))
    after = list_due(session, truck, date(2026, 5, 3), ZONE)[0]

    assert truck_items and before.km_left == 3_000
    assert (after.next_due_km, after.km_left, after.status) == (2_500, 1_500, Status.DUE_SOON)
    assert after.last_done_km == -27_500


def test_a_replacement_without_the_old_meters_last_value_counts_from_its_latest_reading(session):
    make_plan(session)
    oem = make_user(session, Role.OEM_ADMIN)
    truck = make_vehicle(session, model="HOWO TX", sale_date=date(2026, 1, 10), odometer_km=None)
    ensure_schedule(session, truck, ZONE, utcnow())
    read(session, truck, 3_000, date(2026, 2, 1))

    _replace(session, oem, truck, 100, date(2026, 2, 2))

    assert list_due(session, truck, date(2026, 2, 2), ZONE)[0].next_due_km == 2_100


def test_the_old_meters_last_value_below_its_readings_is_refused_naming_it(session):
    oem = make_user(session, Role.OEM_ADMIN)
    truck = make_vehicle(session, odometer_km=None)
    read(session, truck, 412_000, date(2026, 5, 1))

    with pytest.raises(InvalidInput) as refused:
        _replace(session, oem, truck, 0, date(2026, 5, 2), old_value=411_000)

    assert refused.value.field == "old_value"
    assert current_meter(session, truck, MeterKind.KM) == 412_000


def test_a_replacement_before_the_latest_reading_is_refused_naming_it(session):
    oem = make_user(session, Role.OEM_ADMIN)
    truck = make_vehicle(session, odometer_km=None)
    read(session, truck, 412_000, date(2026, 5, 3))

    with pytest.raises(InvalidInput) as refused:
        _replace(session, oem, truck, 0, date(2026, 5, 2))

    assert refused.value.field == "replaced_at"


def test_a_shop_replaces_the_meter_of_a_truck_checked_in_there_only(session):
    shop, elsewhere = make_shop(session), make_shop(session)
    staff = make_user(session, Role.SHOP_STAFF, organization=shop.organization)
    stranger = make_user(session, Role.SHOP_STAFF, organization=elsewhere.organization)
    driver, customer = make_driver(session)
    truck = make_vehicle(session, owner=customer, odometer_km=None)
    read(session, truck, 300_000, date(2026, 5, 1))

    for actor in (stranger, driver, staff):
        with pytest.raises(Forbidden):
            _replace(session, actor, truck, 0, date(2026, 5, 2))
    _checked_in_at(session, shop, truck)
    with pytest.raises(Forbidden):
        _replace(session, stranger, truck, 0, date(2026, 5, 2))
    _replace(session, staff, truck, 5, date(2026, 5, 2))

    assert current_meter(session, truck, MeterKind.KM) == 5
    logged = session.scalars(select(ActivityEntry).where(ActivityEntry.action == "maintenance.meter_replaced")).all()
    assert [(entry.actor_id, entry.subject_id) for entry in logged] == [(staff.id, truck.vin)]


def test_the_api_records_a_replacement_and_refuses_bad_input_naming_the_field(client, session):
    oem = make_user(session, Role.OEM_ADMIN)
    truck = make_vehicle(session, odometer_km=None)
    read(session, truck, 412_000, date.today() - timedelta(days=2))
    headers = auth_header(session, oem)
    url = f"/api/v1/vehicles/{truck.vin}/meters/replacements"

    bad = client.post(url, json={"new_value": -1}, headers=headers)
    backwards = client.post(url, json={"new_value": 10, "old_value": 400_000}, headers=headers)
    done = client.post(url, json={"new_value": 10, "old_value": 412_100}, headers=headers)
    shown = client.get(f"/api/v1/vehicles/{truck.vin}/maintenance", headers=headers)

    assert (bad.status_code, bad.json["error"]["field"]) == (400, "new_value")
    assert (backwards.status_code, backwards.json["error"]["field"]) == (400, "old_value")
    assert done.status_code == 201
    assert (done.json["old_value"], done.json["new_value"]) == (412_100, 10)
    assert shown.json["meters"]["km"]["value"] == 10


def test_a_shop_without_the_truck_checked_in_gets_404_from_the_api(client, session):
    shop = make_shop(session)
    staff = make_user(session, Role.SHOP_STAFF, organization=shop.organization)
    truck = make_vehicle(session, odometer_km=None)

    response = client.post(
        f"/api/v1/vehicles/{truck.vin}/meters/replacements", json={"new_value": 0}, headers=auth_header(session, staff)
    )

    assert response.status_code == 404


def test_a_second_replacement_with_no_reading_between_is_a_conflict(session):
    oem = make_user(session, Role.OEM_ADMIN)
    truck = make_vehicle(session, odometer_km=None)
    read(session, truck, 412_000, date(2026, 5, 1))
    _replace(session, oem, truck, 0, date(2026, 5, 2))

    with pytest.raises(Conflict) as refused:
        _replace(session, oem, truck, 0, date(2026, 5, 3))

    assert refused.value.field == "replaced_at"


@pytest.mark.slow
def test_two_people_recording_one_replacement_at_once_move_the_plan_once(committed_engine):
    sessions = make_sessionmaker(committed_engine)
    with sessions() as setup:
        make_plan(setup)
        oem = make_user(setup, Role.OEM_ADMIN)
        truck = make_vehicle(setup, model="HOWO TX", sale_date=date(2026, 1, 10), odometer_km=None)
        read(setup, truck, 3_000, date(2026, 2, 1))
        setup.commit()
        oem_id, truck_id = oem.id, truck.id

    def press(day):
        def act(session):
            _replace(session, session.get(User, oem_id), session.get(Vehicle, truck_id), 100, day)

        return act

    outcomes = interleave(committed_engine, press(date(2026, 2, 2)), press(date(2026, 2, 3)))

    with sessions() as check:
        moved = check.scalars(select(VehicleSchedule.next_due_km).where(VehicleSchedule.vehicle_id == truck_id)).all()
    assert outcomes == {"first": "ok", "second": "conflict"}
    assert moved == [2_100]
