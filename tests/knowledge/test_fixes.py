"""What fixed it: recording fixes at the booked shop, the network's common fixes after 3 cases, the trends."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.db import utcnow
from app.errors import Conflict, Forbidden, InvalidInput
from app.security import Role
from knowledge.codes import parse_code
from knowledge.faults import record_check_in_faults
from knowledge.fixes import common_fixes, fault_trends, record_booking_fix
from tests.factories import make_user, make_vehicle
from tests.knowledge.factories import make_booking
from tests.traceability.factories import make_part_type


def _fixed(session, code: str, kind: str, part_type=None, **vehicle):
    booking = make_booking(session, vehicle=make_vehicle(session, **vehicle))
    staff = make_user(session, Role.SHOP_STAFF, organization=booking.shop.organization)
    (fault,) = record_check_in_faults(session, staff, booking, [parse_code(code)])
    return record_booking_fix(session, staff, booking, fault, kind, part_type=part_type)


def test_common_fixes_show_counts_after_three_cases_without_naming_shops(session):
    sensor = make_part_type(session, category="sensors", name_zh="压差传感器", name_en="Pressure sensor")
    for _case in range(3):
        _fixed(session, "3251/0", "cleaning")
    _fixed(session, "3251/0", "part_replaced", sensor)

    fixes = common_fixes(session, parse_code("3251/0"))

    assert [(fix["kind"], fix["part_category"], fix["cases"]) for fix in fixes] == [
        ("cleaning", None, 3),
        ("part_replaced", "sensors", 1),
    ]
    assert "shop" not in str(fixes).lower()


def test_no_common_fixes_below_three_cases(session):
    _fixed(session, "3251/0", "cleaning")
    _fixed(session, "3251/0", "cleaning")

    assert common_fixes(session, parse_code("3251/0")) == []
    assert common_fixes(session, parse_code("3251/1")) == []


def test_a_fix_makes_the_fault_inactive_and_a_second_answer_replaces_the_first(session):
    booking = make_booking(session)
    staff = make_user(session, Role.SHOP_STAFF, organization=booking.shop.organization)
    (fault,) = record_check_in_faults(session, staff, booking, [parse_code("100/1")])
    first = record_booking_fix(session, staff, booking, fault, "wiring")

    again = record_booking_fix(session, staff, booking, fault, "software")

    assert (again.id, again.kind, again.case_ref) == (first.id, "software", f"booking:{booking.id}")
    assert (fault.active, fault.cleared_at is not None) == (False, True)


@pytest.mark.parametrize(("kind", "field"), [("magic", "kind"), ("part_replaced", "part_number")])
def test_a_fix_needs_a_known_kind_and_a_part_only_for_replacements(session, kind, field):
    with pytest.raises(InvalidInput) as raised:
        _fixed(session, "100/1", kind)

    assert raised.value.field == field


def test_only_the_booked_shop_records_a_fix_once_the_truck_is_in(session):
    booking = make_booking(session, status="checked_in")
    staff = make_user(session, Role.SHOP_STAFF, organization=booking.shop.organization)
    (fault,) = record_check_in_faults(session, staff, booking, [parse_code("100/1")])

    with pytest.raises(Forbidden):
        record_booking_fix(session, make_user(session, Role.SHOP_STAFF), booking, fault, "wiring")
    booking.status = "cancelled"
    with pytest.raises(Conflict):
        record_booking_fix(session, staff, booking, fault, "wiring")


def test_trends_count_trucks_per_code_model_and_province(session):
    for province in ("Henan", "Henan", "Hebei"):
        _fixed(session, "3251/0", "cleaning", model="HOWO TX", province=province)

    trends = fault_trends(session, utcnow() - timedelta(days=30))

    assert [(row["code"], row["model"], row["province"], row["trucks"]) for row in trends] == [
        ("3251/0", "HOWO TX", "Henan", 2),
        ("3251/0", "HOWO TX", "Hebei", 1),
    ]


def test_entering_codes_and_recording_a_fix_are_in_the_activity_log(session):
    from app.crm.activity import select_activity

    fix = _fixed(session, "3251/0", "cleaning")

    actions = [entry.action for entry in session.scalars(select_activity(action="knowledge."))]
    assert actions[:2] == ["knowledge.fix_recorded", "knowledge.faults_entered_at_check_in"]
    fixed = session.scalars(select_activity(action="knowledge.fix_recorded")).first()
    assert (fixed.subject_id, fixed.details["case"], fixed.actor_id) == (
        str(fix.vehicle_fault_id),
        fix.case_ref,
        fix.noted_by_id,
    )
