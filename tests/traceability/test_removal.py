"""Who may take an installed part off a truck (issue 10 row 9) and who is locked out by wrong codes (row 12)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.crm.models import ActivityEntry
from app.errors import CountedFailure, Forbidden, InvalidInput
from app.security import Role
from network.models import Booking
from network.presence import vehicle_at_shop
from tests.factories import auth_header, make_organization, make_user, make_vehicle
from tests.network.factories import make_shop
from tests.traceability.factories import activation_code, make_batch, part_url, record, stock_parts
from traceability.commissioning import list_batch_parts
from traceability.models import Installation, PartState
from traceability.service_access import register_vehicle_presence


@pytest.fixture
def installed(session):
    """A part installed on a truck by its holding dealer; returns (part, vehicle, installer)."""
    parts = list_batch_parts(session, make_batch(session, quantity=2))
    installer = stock_parts(session, parts, make_organization(session, kind="dealer"))
    vehicle = make_vehicle(session)
    record(session, installer, "install", parts[:1], vin=vehicle.vin, activation_code=activation_code(parts[0]))
    return parts[0], vehicle, installer


def test_stranger_shop_cannot_remove_then_destroy_a_part_on_another_truck(session, client, installed):
    part, vehicle, _installer = installed
    stranger = make_user(session, Role.SHOP_STAFF, make_organization(session, kind="shop"))
    headers = auth_header(session, stranger)
    ref = [{"gtin": part.gtin, "serial": part.serial}]

    removal = client.post(
        "/api/v1/events", json={"type": "remove", "parts": ref, "vin": vehicle.vin, "reason": "x"}, headers=headers
    )
    destruction = client.post("/api/v1/events", json={"type": "destroy", "parts": ref}, headers=headers)

    assert removal.status_code == 403
    assert destruction.status_code == 403
    assert (
        client.post("/api/v1/scans", json={"url": part_url(part)}).json["verdict"] == "installed"
    )  # genuine, on its truck


def test_removal_without_reason_is_400_naming_reason(session, client, installed):
    part, vehicle, installer = installed
    body = {"type": "remove", "parts": [{"gtin": part.gtin, "serial": part.serial}], "vin": vehicle.vin}

    response = client.post("/api/v1/events", json=body, headers=auth_header(session, installer))

    assert response.status_code == 400
    assert response.json["error"]["field"] == "reason"
    assert part.state == PartState.INSTALLED


def test_installing_shop_may_remove_within_warranty_with_reason_in_activity_log(session, installed):
    part, vehicle, installer = installed

    event = record(session, installer, "remove", [part], vin=vehicle.vin, reason="leaking seal")

    assert part.state == PartState.REMOVED
    entry = session.scalar(select(ActivityEntry).where(ActivityEntry.subject_id == str(event.id)))
    assert entry.action == "traceability.part_remove"
    assert entry.details["reason"] == "leaking seal"


def test_installing_shop_may_not_remove_after_the_warranty(session, installed):
    part, vehicle, installer = installed
    installation = session.scalar(select(Installation).where(Installation.part_id == part.id))
    installation.installed_at = installation.installed_at - timedelta(days=400)  # warranty: 12 months

    with pytest.raises(Forbidden):
        record(session, installer, "remove", [part], vin=vehicle.vin, reason="worn")


def test_shop_the_vehicle_is_checked_in_at_may_remove(session, installed):
    register_vehicle_presence(vehicle_at_shop, key="network")
    part, vehicle, _installer = installed
    shop = make_shop(session)
    staff = make_user(session, Role.SHOP_STAFF, shop.organization)
    with pytest.raises(Forbidden):
        record(session, staff, "remove", [part], vin=vehicle.vin, reason="worn")
    start = datetime.now(UTC).replace(microsecond=0)
    session.add(
        Booking(
            shop_id=shop.id,
            customer_id=vehicle.owner_id,
            vehicle_id=vehicle.id,
            service="repair",
            start=start,
            end=start + timedelta(hours=1),
            status="checked_in",
        )
    )
    session.flush()

    record(session, staff, "remove", [part], vin=vehicle.vin, reason="worn")

    assert part.state == PartState.REMOVED


def test_oem_may_remove(session, installed):
    part, vehicle, _installer = installed
    oem = make_user(session, Role.OEM_ADMIN, make_organization(session, kind="oem"))

    record(session, oem, "remove", [part], vin=vehicle.vin, reason="recall inspection")

    assert part.state == PartState.REMOVED


def test_strangers_wrong_codes_do_not_lock_out_the_holders_shop(session):
    parts = list_batch_parts(session, make_batch(session, quantity=1))
    holder = stock_parts(session, parts, make_organization(session, kind="dealer"))
    vehicle = make_vehicle(session)
    record(session, holder, "sell", parts)  # to a driver: any shop may then try to fit it
    for _ in range(5):
        stranger = make_user(session, Role.SHOP_STAFF, make_organization(session, kind="shop"))
        with pytest.raises(CountedFailure):
            record(session, stranger, "install", parts, vin=vehicle.vin, activation_code="0000000000")

    record(session, holder, "install", parts, vin=vehicle.vin, activation_code=activation_code(parts[0]))

    assert parts[0].state == PartState.INSTALLED


def test_reason_longer_than_500_is_refused(session, installed):
    part, vehicle, installer = installed
    with pytest.raises(InvalidInput) as error:
        record(session, installer, "remove", [part], vin=vehicle.vin, reason="x" * 501)
    assert error.value.field == "reason"
