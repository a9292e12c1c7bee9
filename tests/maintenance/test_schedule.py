"""What a truck has due: km, engine hours and months, whichever comes first (or later); the reset from a service."""

from __future__ import annotations

from datetime import date

import pytest

from app.errors import InvalidInput
from maintenance.models import MeterKind, Status
from maintenance.schedule import ensure_schedule, list_due, reset_item, set_duty_cycle
from tests.factories import make_driver, make_vehicle
from tests.maintenance.factories import OIL, ZONE, at, make_plan, read


def _oil(session, vehicle, today):
    [due] = list_due(session, vehicle, today, ZONE)
    return due


def test_new_truck_before_its_first_service_is_ok_then_due_soon_then_overdue_by_km(session):
    make_plan(session)
    truck = make_vehicle(session, model="HOWO TX 6x4", sale_date=date(2026, 1, 10), odometer_km=120)

    read(session, truck, 2800, date(2026, 2, 20))
    first = _oil(session, truck, date(2026, 2, 20))
    read(session, truck, 4100, date(2026, 3, 1))
    second = _oil(session, truck, date(2026, 3, 1))
    read(session, truck, 5100, date(2026, 3, 5))
    third = _oil(session, truck, date(2026, 3, 5))

    assert (first.status, first.km_left, first.days_left) == (Status.OK, 2200, 49)
    assert (second.status, second.km_left) == (Status.DUE_SOON, 900)
    assert (third.status, third.km_left) == (Status.OVERDUE, -100)


def test_first_service_falls_due_by_months_without_any_reading(session):
    make_plan(session)
    truck = make_vehicle(session, model="HOWO TX 6x4", sale_date=date(2026, 1, 10), odometer_km=120)

    due = _oil(session, truck, date(2026, 4, 11))

    assert (due.status, due.next_due_on, due.days_left) == (Status.OVERDUE, date(2026, 4, 10), -1)


@pytest.mark.parametrize(
    ("km", "hours", "today", "leg"),
    [
        (30500, 200, date(2026, 3, 1), "km"),
        (1000, 1010, date(2026, 3, 1), "hours"),
        (1000, 200, date(2026, 7, 2), "months"),
    ],
)
def test_an_item_is_overdue_when_any_one_of_its_intervals_is_reached(session, km, hours, today, leg):
    item = {"service_code": "engine_oil", "every_km": 30000, "every_hours": 1000, "every_months": 6}
    make_plan(session, item)
    truck = make_vehicle(session, model="HOWO TX", sale_date=date(2026, 1, 1), odometer_km=0)
    read(session, truck, km, date(2026, 3, 1))
    read(session, truck, hours, date(2026, 3, 1), kind=MeterKind.HOURS)

    due = _oil(session, truck, today)

    lefts = {"km": due.km_left, "hours": due.hours_left, "months": due.days_left}
    assert due.status == Status.OVERDUE
    assert [name for name, left in lefts.items() if left <= 0] == [leg]


def test_rule_later_waits_for_the_last_interval(session):
    make_plan(session, {"service_code": "engine_oil", "every_km": 30000, "every_months": 6, "rule": "later"})
    truck = make_vehicle(session, model="HOWO TX", sale_date=date(2026, 1, 1), odometer_km=0)
    read(session, truck, 31000, date(2026, 5, 1))

    due = _oil(session, truck, date(2026, 5, 1))

    assert (due.status, due.km_left) == (Status.OK, -1000)


def test_engine_hours_item_counts_only_hours(session):
    make_plan(session, {"service_code": "dpf_clean", "every_hours": 1500, "soon_hours": 50})
    truck = make_vehicle(session, model="HOWO TX", sale_date=date(2026, 1, 1), odometer_km=0)
    read(session, truck, 400000, date(2026, 3, 1))
    read(session, truck, 1460, date(2026, 3, 1), kind=MeterKind.HOURS)

    due = _oil(session, truck, date(2026, 3, 1))

    assert (due.status, due.hours_left, due.km_left, due.next_due_km) == (Status.DUE_SOON, 40, None, None)


def test_reset_counts_from_the_service_actually_done_not_the_old_due_value(session):
    plan = make_plan(session)
    truck = make_vehicle(session, model="HOWO TX", sale_date=date(2026, 1, 10), odometer_km=0)
    ensure_schedule(session, truck, ZONE, at(date(2026, 1, 10)))
    reset_item(session, truck, plan.items[0], done_km=5120, done_hours=None, done_on=date(2026, 3, 1), source="booking")
    read(session, truck, 36540, date(2026, 9, 1))
    assert _oil(session, truck, date(2026, 9, 1)).status == Status.OVERDUE  # due at 35 120

    done = date(2026, 9, 1)
    reset_item(session, truck, plan.items[0], done_km=36540, done_hours=None, done_on=done, source="booking")
    due = _oil(session, truck, date(2026, 9, 1))

    assert (due.next_due_km, due.next_due_on, due.status) == (66540, date(2027, 3, 1), Status.OK)


def test_status_is_computed_on_read_so_the_next_day_changes_it_without_a_write(session):
    make_plan(session)
    truck = make_vehicle(session, model="HOWO TX", sale_date=date(2026, 1, 10), odometer_km=100)
    ensure_schedule(session, truck, ZONE, at(date(2026, 1, 10)))

    before = _oil(session, truck, date(2026, 3, 26))
    after = _oil(session, truck, date(2026, 3, 27))  # 14 days before 10 April

    assert (before.status, after.status) == (Status.OK, Status.DUE_SOON)


def test_a_truck_no_plan_covers_has_nothing_due(session):
    make_plan(session)
    truck = make_vehicle(session, model="Foton Auman", odometer_km=900000)

    assert list_due(session, truck, date(2026, 3, 1), ZONE) == []


def test_a_new_plan_version_leaves_trucks_on_the_old_one(session):
    make_plan(session)
    truck = make_vehicle(session, model="HOWO TX", sale_date=date(2026, 1, 10), odometer_km=100)
    ensure_schedule(session, truck, ZONE, at(date(2026, 1, 10)))
    newcomer = make_vehicle(session, model="HOWO TX", sale_date=date(2026, 1, 10), odometer_km=100)

    make_plan(session, {**OIL, "first_at_km": 8000})

    assert _oil(session, truck, date(2026, 1, 11)).next_due_km == 5000
    assert _oil(session, newcomer, date(2026, 1, 11)).next_due_km == 8000


def test_a_duty_cycle_change_moves_the_truck_to_that_plan_keeping_its_last_service(session):
    long_haul = make_plan(session)
    make_plan(session, {**OIL, "every_km": 15000, "every_months": 3}, code="HOWO-SV", duty_cycle="severe")
    driver, customer = make_driver(session)
    truck = make_vehicle(session, owner=customer, model="HOWO TX", sale_date=date(2026, 1, 10), odometer_km=100)
    ensure_schedule(session, truck, ZONE, at(date(2026, 1, 10)))
    done = date(2026, 4, 1)
    reset_item(session, truck, long_haul.items[0], done_km=5100, done_hours=None, done_on=done, source="booking")

    set_duty_cycle(session, driver, truck, "severe", ZONE, at(date(2026, 4, 2)))
    due = _oil(session, truck, date(2026, 4, 2))

    assert (due.last_done_km, due.next_due_km, due.next_due_on) == (5100, 20100, date(2026, 7, 1))


def test_a_duty_cycle_without_a_plan_is_refused_naming_it(session):
    make_plan(session)
    driver, customer = make_driver(session)
    truck = make_vehicle(session, owner=customer, model="HOWO TX")

    with pytest.raises(InvalidInput) as refused:
        set_duty_cycle(session, driver, truck, "regional", ZONE, at(date(2026, 4, 2)))

    assert refused.value.field == "duty_cycle"
