"""The driver's truck pages: add a truck by VIN (a mistyped VIN explained in Chinese), and a truck's page."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.crm.models import ActivityEntry, Vehicle
from app.security import Role
from tests.factories import make_driver, make_user, make_vehicle, random_vin, sign_in_client

ZH = {"Accept-Language": "zh-CN"}


def _mistyped(vin: str) -> str:
    wrong = "0" if vin[8] != "0" else "1"
    return vin[:8] + wrong + vin[9:]


def test_driver_adds_a_truck_and_lands_on_its_page(client, session):
    user, customer = make_driver(session)
    csrf = sign_in_client(client, user)
    vin = random_vin()

    response = client.post(
        "/crm/vehicles/new", data={"csrf_token": csrf, "vin": vin.lower(), "model": "HOWO TX", "plate": "豫A12345"}
    )

    assert response.status_code == 302
    assert response.headers["Location"].startswith(f"/crm/vehicles/{vin}")
    vehicle = session.scalar(select(Vehicle).where(Vehicle.vin == vin))
    assert vehicle.owner_id == customer.id
    assert vehicle.verified_at is None


def test_add_truck_explains_a_wrong_check_digit_in_chinese(client, session):
    user, _customer = make_driver(session)
    csrf = sign_in_client(client, user)
    vin = random_vin()

    response = client.post(
        "/crm/vehicles/new", data={"csrf_token": csrf, "vin": _mistyped(vin), "model": "HOWO TX"}, headers=ZH
    )

    assert response.status_code == 400
    assert f"校验位（第 9 位）是 {_mistyped(vin)[8]}，但按其余 16 位计算应为 {vin[8]}" in response.text
    assert 'aria-invalid="true"' in response.text
    assert session.scalar(select(Vehicle).where(Vehicle.vin == vin)) is None


def test_add_truck_names_the_position_of_a_letter_never_used_in_a_vin(client, session):
    user, _customer = make_driver(session)
    csrf = sign_in_client(client, user)
    vin = random_vin()

    response = client.post(
        "/crm/vehicles/new", data={"csrf_token": csrf, "vin": vin[:11] + "O" + vin[12:], "model": "X"}, headers=ZH
    )

    assert response.status_code == 400
    assert "第 12 位" in response.text


@pytest.mark.parametrize("role", [Role.SHOP_STAFF, Role.OEM_ADMIN])
def test_add_truck_page_is_for_drivers(client, session, role):
    sign_in_client(client, make_user(session, role))

    response = client.get("/crm/vehicles/new")

    assert response.status_code == 403


def test_driver_never_sees_another_drivers_truck(client, session):
    _other, other_customer = make_driver(session)
    vehicle = make_vehicle(session, owner=other_customer)
    user, _customer = make_driver(session)
    sign_in_client(client, user)

    response = client.get(f"/crm/vehicles/{vehicle.vin}")

    assert response.status_code == 404


def test_adding_a_truck_is_in_the_activity_log_as_the_drivers(client, session):
    user, customer = make_driver(session)
    csrf = sign_in_client(client, user)
    vin = random_vin()

    client.post("/crm/vehicles/new", data={"csrf_token": csrf, "vin": vin, "model": "HOWO TX"})

    entry = session.scalar(select(ActivityEntry).where(ActivityEntry.action == "crm.vehicle_added"))
    assert (entry.actor_id, entry.subject_type, entry.subject_id) == (user.id, "vehicle", vin)
    assert entry.details["owner"] == customer.id
