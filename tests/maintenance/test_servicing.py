"""A maintenance booking completed with the shop's odometer resets the items due from that odometer and day, and
keeps the genuine parts the shop installed on the truck during the booking as evidence."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import select

from app.clock import local_today
from app.db import utcnow
from app.security import Role
from maintenance.models import MeterReading, ServiceRecord
from maintenance.plans import add_months
from maintenance.schedule import ensure_schedule, list_due, reset_item
from network.models import Booking, BookingStatus
from tests.factories import PAGE_CSRF, auth_header, make_driver, make_user, make_vehicle, sign_in_client
from tests.maintenance.factories import OIL, ZONE, make_plan, read
from tests.network.factories import make_shop
from tests.traceability.factories import activation_code, make_batch, record, stock_parts
from traceability.models import Installation, Part, PartType


def _overdue_truck(session, part_type_ids=()):
    plan = make_plan(session, {**OIL, "part_type_ids": list(part_type_ids)})
    _driver, customer = make_driver(session)
    truck = make_vehicle(session, owner=customer, model="HOWO TX", sale_date=date(2025, 1, 10), odometer_km=None)
    ensure_schedule(session, truck, ZONE, utcnow())
    done_on = local_today(ZONE) - timedelta(days=200)
    reset_item(session, truck, plan.items[0], done_km=5120, done_hours=None, done_on=done_on, source="booking")
    read(session, truck, 36000, local_today(ZONE) - timedelta(days=1))
    return truck


def _booking(session, shop, truck, service="maintenance"):
    start = utcnow() - timedelta(minutes=30)
    booking = Booking(
        shop_id=shop.id, customer_id=truck.owner_id, vehicle_id=truck.id, service=service, start=start,
        end=start + timedelta(hours=1), status=BookingStatus.CONFIRMED,
    )  # fmt: skip
    session.add(booking)
    session.flush()
    return booking


def _install(session, shop, truck, part_type_id: int) -> Part:
    batch = make_batch(session, quantity=1, part_type=session.get(PartType, part_type_id))
    part = session.scalars(select(Part).where(Part.batch_id == batch.id)).one()
    staff = stock_parts(session, [part], shop.organization)
    record(session, staff, "install", [part], vin=truck.vin, activation_code=activation_code(part))
    return part


def test_completing_a_maintenance_booking_resets_from_its_odometer_with_the_genuine_part_as_evidence(client, session):
    shop = make_shop(session)
    batch_part = session.scalars(select(Part).where(Part.batch_id == make_batch(session, quantity=1).id)).one()
    truck = _overdue_truck(session, part_type_ids=[batch_part.part_type_id])
    booking = _booking(session, shop, truck)
    staff = make_user(session, Role.SHOP_STAFF, shop.organization)
    part = _install(session, shop, truck, batch_part.part_type_id)
    headers = auth_header(session, staff)

    checked_in = client.post(f"/api/v1/bookings/{booking.id}/check-in?odometer_km=36500", headers=headers)
    completed = client.post(f"/api/v1/bookings/{booking.id}/complete?odometer_km=36540", headers=headers)

    today = local_today(ZONE)
    [due] = list_due(session, truck, today, ZONE)
    service = session.scalars(select(ServiceRecord).where(ServiceRecord.booking_id == booking.id)).one()
    installation = session.scalars(select(Installation).where(Installation.part_id == part.id)).one()
    assert (checked_in.status_code, completed.status_code) == (200, 200)
    assert (due.next_due_km, due.next_due_on, due.status) == (66540, add_months(today, 6), "ok")
    assert due.genuine_parts is True
    assert (service.odometer_km, service.service_codes, service.installation_ids) == (
        36540, ["engine_oil"], [installation.id],
    )  # fmt: skip
    assert installation.organization_id == shop.organization_id
    readings = session.scalars(select(MeterReading.value).where(MeterReading.booking_id == booking.id)).all()
    assert sorted(readings) == [36500, 36540]


def test_without_the_recommended_part_the_reset_says_no_genuine_part(client, session):
    shop = make_shop(session)
    truck = _overdue_truck(session, part_type_ids=[999999])
    booking = _booking(session, shop, truck)
    headers = auth_header(session, make_user(session, Role.SHOP_STAFF, shop.organization))
    client.post(f"/api/v1/bookings/{booking.id}/check-in", headers=headers)

    client.post(f"/api/v1/bookings/{booking.id}/complete?odometer_km=36540", headers=headers)

    [due] = list_due(session, truck, local_today(ZONE), ZONE)
    assert (due.next_due_km, due.genuine_parts) == (66540, False)


def test_a_repair_booking_does_not_reset_maintenance_items(client, session):
    shop = make_shop(session)
    truck = _overdue_truck(session)
    booking = _booking(session, shop, truck, service="repair")
    headers = auth_header(session, make_user(session, Role.SHOP_STAFF, shop.organization))
    client.post(f"/api/v1/bookings/{booking.id}/check-in", headers=headers)

    client.post(f"/api/v1/bookings/{booking.id}/complete?odometer_km=36540", headers=headers)

    [due] = list_due(session, truck, local_today(ZONE), ZONE)
    assert (due.next_due_km, due.status) == (35120, "overdue")


def test_a_check_in_odometer_below_the_last_reading_is_refused_and_the_booking_stays(client, session):
    shop = make_shop(session)
    truck = _overdue_truck(session)
    booking = _booking(session, shop, truck)
    headers = auth_header(session, make_user(session, Role.SHOP_STAFF, shop.organization))

    response = client.post(f"/api/v1/bookings/{booking.id}/check-in?odometer_km=30000", headers=headers)

    assert response.status_code == 400
    assert response.json["error"]["field"] == "odometer_km"
    session.refresh(booking)
    assert booking.status == BookingStatus.CONFIRMED


def test_the_shop_console_sends_the_odometer_with_the_completion(client, session):
    shop = make_shop(session)
    truck = _overdue_truck(session)
    booking = _booking(session, shop, truck)
    booking.status = BookingStatus.CHECKED_IN
    session.flush()
    sign_in_client(client, make_user(session, Role.SHOP_STAFF, shop.organization))

    console = client.get("/console")
    response = client.post(
        f"/bookings/{booking.id}/complete",
        data={"csrf_token": PAGE_CSRF, "odometer_km": "36,540", "next": "/console"},
    )

    assert 'name="odometer_km"' in console.get_data(as_text=True)
    assert response.status_code == 302
    [due] = list_due(session, truck, local_today(ZONE), ZONE)
    assert due.next_due_km == 66540
