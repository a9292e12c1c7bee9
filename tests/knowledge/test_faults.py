"""Faults per vehicle: driver, shop and telematics entry, deduplication, active and inactive, permissions."""

from __future__ import annotations

import pytest

from app.errors import Conflict, Forbidden
from app.security import Role
from knowledge.codes import parse_code, parse_dm1
from knowledge.faults import (
    list_vehicle_faults,
    may_see_faults,
    record_check_in_faults,
    record_driver_fault,
    record_telematics_report,
)
from tests.factories import make_driver, make_organization, make_user, make_vehicle
from tests.knowledge.factories import make_booking


def test_the_same_code_twice_is_one_fault_with_two_reports(session):
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)

    first = record_driver_fault(session, user, vehicle, parse_code("100/1"))
    again = record_driver_fault(session, user, vehicle, parse_code("SPN 100 FMI 1 OC 4"))

    assert again.id == first.id
    assert (again.reports, again.occurrence_count, again.active) == (2, 4, True)
    assert again.last_seen_at >= again.first_seen_at
    assert len(list_vehicle_faults(session, vehicle)) == 1


def test_a_driver_records_faults_on_own_trucks_only(session):
    user, _customer = make_driver(session)

    with pytest.raises(Forbidden):
        record_driver_fault(session, user, make_vehicle(session), parse_code("100/1"))


def test_a_shop_enters_codes_for_the_truck_booked_with_it(session):
    booking = make_booking(session, status="checked_in")
    staff = make_user(session, Role.SHOP_STAFF, organization=booking.shop.organization)

    faults = record_check_in_faults(session, staff, booking, [parse_code("3251/0"), parse_code("P20EE")])

    assert [(fault.code, fault.first_source, fault.booking_id) for fault in faults] == [
        ("3251", "shop", booking.id),
        ("P20EE", "shop", booking.id),
    ]


def test_another_shop_cannot_enter_codes_for_a_booking(session):
    booking = make_booking(session)
    other = make_user(session, Role.SHOP_STAFF)

    with pytest.raises(Forbidden):
        record_check_in_faults(session, other, booking, [parse_code("3251/0")])


def test_codes_are_entered_at_check_in_not_after_cancellation(session):
    booking = make_booking(session, status="cancelled")
    staff = make_user(session, Role.SHOP_STAFF, organization=booking.shop.organization)

    with pytest.raises(Conflict):
        record_check_in_faults(session, staff, booking, [parse_code("3251/0")])


def test_a_dm1_snapshot_makes_codes_no_longer_sent_inactive(session):
    oem = make_user(session, Role.OEM_ADMIN)
    vehicle = make_vehicle(session)
    record_telematics_report(session, oem, vehicle, parse_dm1("14 FF B3 0C 00 01 64 00 01 01", 0).codes, snapshot=True)

    reported, cleared = record_telematics_report(
        session, oem, vehicle, parse_dm1("04 FF B3 0C 00 02", 0).codes, snapshot=True, source_address=0
    )

    assert [fault.code for fault in reported] == ["3251"]
    assert [(fault.code, fault.active) for fault in cleared] == [("100", False)]
    assert [(fault.code, fault.active) for fault in list_vehicle_faults(session, vehicle)] == [
        ("3251", True),
        ("100", False),
    ]


def test_a_code_that_comes_back_is_active_again(session):
    oem = make_user(session, Role.OEM_ADMIN)
    vehicle = make_vehicle(session)
    record_telematics_report(session, oem, vehicle, [parse_code("100/1")])
    record_telematics_report(session, oem, vehicle, [], snapshot=True)

    (fault,), _cleared = record_telematics_report(session, oem, vehicle, [parse_code("100/1")])

    assert (fault.active, fault.cleared_at, fault.reports) == (True, None, 2)


def test_a_fleets_platform_reports_for_its_own_trucks_only(session):
    fleet = make_organization(session, kind="fleet")
    platform = make_user(session, Role.DEALER_STAFF, organization=fleet)
    own = make_vehicle(session, fleet=fleet)

    record_telematics_report(session, platform, own, [parse_code("100/1")])
    with pytest.raises(Forbidden):
        record_telematics_report(session, platform, make_vehicle(session), [parse_code("100/1")])


def test_who_may_read_a_trucks_faults(session):
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)

    assert may_see_faults(user, vehicle)
    assert may_see_faults(make_user(session, Role.OEM_ADMIN), vehicle)
    assert not may_see_faults(make_driver(session)[0], vehicle)
    assert not may_see_faults(make_user(session, Role.SHOP_STAFF), vehicle)
