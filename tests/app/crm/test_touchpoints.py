"""Touchpoints: the one door through which domains tell the CRM about a person's intent."""

from __future__ import annotations

import pytest

from app.crm.touchpoints import record_touchpoint
from app.errors import InvalidInput
from tests.factories import make_customer, make_vehicle


def test_touchpoint_takes_phone_vin_and_province_from_its_records(session):
    customer = make_customer(session)
    vehicle = make_vehicle(session, owner=customer, province="Hubei")

    touchpoint = record_touchpoint(
        session, channel="booking", kind="maintenance", source_type="booking", source_id=5, customer=customer,
        vehicle=vehicle,
    )  # fmt: skip

    assert (touchpoint.phone, touchpoint.vin, touchpoint.province) == (customer.phone, vehicle.vin, "Hubei")
    assert (touchpoint.consent_basis, touchpoint.consent_topic) == ("service", "maintenance")


def test_touchpoint_without_anyone_to_reach_is_not_written(session):
    assert record_touchpoint(session, channel="scan", kind="buy", source_type="scan", source_id=1) is None


@pytest.mark.parametrize(
    ("options", "field"),
    [({"channel": "fax"}, "channel"), ({"consent_basis": "marketing"}, "consent_text_version")],
)
def test_bad_touchpoint_names_the_field(session, options, field):
    values = {"channel": "booking", "kind": "k", "source_type": "t", "source_id": 1, "phone": "13800000000"}

    with pytest.raises(InvalidInput) as refused:
        record_touchpoint(session, **(values | options))

    assert refused.value.field == field
