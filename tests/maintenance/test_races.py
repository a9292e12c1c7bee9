"""Two readings of one truck at once: the vehicle's row lock makes them take turns, so the one that would go
backwards against the other is refused instead of both being stored out of order. Two reminder rounds at once:
the reminder's unique key lets one of them tell a due item."""

from __future__ import annotations

import threading
from datetime import date, datetime

import pytest
from sqlalchemy import select

from app.config import load_settings
from app.crm.models import Touchpoint, Vehicle
from app.db import make_sessionmaker, run_in_transaction, utcnow
from app.errors import InvalidInput
from maintenance.meters import MAX_KM_PER_DAY, record_reading
from maintenance.models import MeterReading, Reminder
from maintenance.reminders import send_reminders
from maintenance.settings import maintenance_settings
from tests.factories import make_driver, make_vehicle
from tests.maintenance.factories import ZONE, make_plan
from tests.races import race, wait_until_blocked

pytestmark = pytest.mark.slow
EARLY, LATE = datetime(2026, 11, 30, 10, tzinfo=ZONE), datetime(2026, 11, 30, 11, tzinfo=ZONE)


def test_a_higher_earlier_and_a_lower_later_reading_at_once_store_only_one(committed_engine):
    sessions = make_sessionmaker(committed_engine)
    with sessions() as setup:
        vehicle_id = make_vehicle(setup, odometer_km=None).id
        setup.commit()
    first_flushed, second_started = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def read(session, value: int, moment: datetime, hold: bool) -> None:
        vehicle = session.get(Vehicle, vehicle_id)
        record_reading(
            session, None, vehicle, "km", value, moment, "telematics", now=LATE, max_km_per_day=MAX_KM_PER_DAY
        )
        if hold:
            # The first reading is written but not committed while the second one asks for the truck's lock.
            first_flushed.set()
            second_started.wait(timeout=10)
            wait_until_blocked(committed_engine)

    def first() -> None:
        run_in_transaction(sessions, lambda session: read(session, 41000, EARLY, hold=True), retries=0)
        outcomes["first"] = "ok"

    def second() -> None:
        first_flushed.wait(timeout=10)
        second_started.set()
        try:
            run_in_transaction(sessions, lambda session: read(session, 40000, LATE, hold=False), retries=0)
            outcomes["second"] = "ok"
        except InvalidInput as refused:
            outcomes["second"] = refused.field

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert outcomes == {"first": "ok", "second": "odometer_km"}
    with sessions() as check:
        stored = check.scalars(select(MeterReading.value).where(MeterReading.vehicle_id == vehicle_id)).all()
        assert stored == [41000]


def test_two_reminder_rounds_at_once_tell_a_due_item_once(committed_engine):
    sessions = make_sessionmaker(committed_engine)
    with sessions() as setup:
        make_plan(setup)
        _user, customer = make_driver(setup)
        truck = make_vehicle(setup, owner=customer, model="HOWO TX", sale_date=date.today(), odometer_km=4200)
        truck_id = truck.id
        setup.commit()
    settings = maintenance_settings(load_settings())

    def prepare(session):
        return lambda: send_reminders(session, settings, utcnow())

    outcomes = race(sessions, prepare, [(), ()])

    with sessions() as check:
        reminders = check.scalars(select(Reminder).where(Reminder.vehicle_id == truck_id)).all()
        touchpoints = check.scalars(select(Touchpoint).where(Touchpoint.vehicle_id == truck_id)).all()
    assert outcomes == ["ok", "ok"]
    assert (len(reminders), len(touchpoints)) == (1, 1)
