"""The maintenance API: plans the OEM publishes, a truck's items due, readings (a stranger's truck is 404)."""

from __future__ import annotations

from datetime import date

from app.security import Role
from tests.factories import auth_header, make_driver, make_user, make_vehicle
from tests.maintenance.factories import OIL, make_plan


def test_oem_publishes_a_plan_and_a_second_version_replaces_it(client, session):
    oem = make_user(session, Role.OEM_ADMIN)
    body = {"code": "SITRAK-LH", "model_prefix": "SITRAK", "name_zh": "汕德卡", "items": [OIL]}

    first = client.post("/api/v1/maintenance/plans", json=body, headers=auth_header(session, oem))
    second = client.post(
        "/api/v1/maintenance/plans", json={**body, "items": [{**OIL, "every_km": 40000}]},
        headers=auth_header(session, oem),
    )  # fmt: skip
    shown = client.get("/api/v1/maintenance/plans/SITRAK-LH", headers=auth_header(session, oem))

    assert (first.status_code, second.status_code) == (201, 201)
    assert (shown.json["version"], shown.json["items"][0]["every_km"]) == (2, 40000)


def test_a_plan_item_without_any_interval_is_refused_naming_it(client, session):
    oem = make_user(session, Role.OEM_ADMIN)
    body = {"code": "X", "model_prefix": "HOWO", "items": [{"service_code": "engine_oil"}]}

    response = client.post("/api/v1/maintenance/plans", json=body, headers=auth_header(session, oem))

    assert response.status_code == 400
    assert response.json["error"]["field"] == "items[0].every_km"


def test_drivers_cannot_publish_plans(client, session):
    driver, _customer = make_driver(session)
    body = {"code": "X", "model_prefix": "HOWO", "items": [OIL]}

    response = client.post("/api/v1/maintenance/plans", json=body, headers=auth_header(session, driver))

    assert response.status_code == 403


def test_driver_records_a_reading_and_sees_what_is_due(client, session):
    make_plan(session)
    driver, customer = make_driver(session)
    truck = make_vehicle(session, owner=customer, model="HOWO TX", sale_date=date.today(), odometer_km=100)

    recorded = client.post(
        f"/api/v1/vehicles/{truck.vin}/meters", json={"value": 4200}, headers=auth_header(session, driver)
    )
    shown = client.get(f"/api/v1/vehicles/{truck.vin}/maintenance", headers=auth_header(session, driver))

    assert recorded.status_code == 201
    assert shown.json["meters"]["km"]["value"] == 4200
    assert [(item["service_code"], item["status"], item["km_left"]) for item in shown.json["items"]] == [
        ("engine_oil", "due_soon", 800)
    ]


def test_a_reading_going_backwards_is_400_naming_value(client, session):
    driver, customer = make_driver(session)
    truck = make_vehicle(session, owner=customer)
    headers = auth_header(session, driver)
    client.post(f"/api/v1/vehicles/{truck.vin}/meters", json={"value": 41000}, headers=headers)

    response = client.post(f"/api/v1/vehicles/{truck.vin}/meters", json={"value": 40000}, headers=headers)

    assert response.status_code == 400
    assert response.json["error"]["field"] == "value"


def test_a_strangers_truck_is_404(client, session):
    make_plan(session)
    driver, _customer = make_driver(session)
    stranger = make_vehicle(session, model="HOWO TX")
    headers = auth_header(session, driver)

    shown = client.get(f"/api/v1/vehicles/{stranger.vin}/maintenance", headers=headers)
    recorded = client.post(f"/api/v1/vehicles/{stranger.vin}/meters", json={"value": 1}, headers=headers)

    assert (shown.status_code, recorded.status_code) == (404, 404)


def test_driver_sets_the_duty_cycle_and_the_truck_follows_that_plan(client, session):
    make_plan(session)
    make_plan(session, {"service_code": "engine_oil", "every_km": 15000}, code="HOWO-SV", duty_cycle="severe")
    driver, customer = make_driver(session)
    truck = make_vehicle(session, owner=customer, model="HOWO TX", odometer_km=100)
    headers = auth_header(session, driver)

    moved = client.put(
        f"/api/v1/vehicles/{truck.vin}/maintenance/duty-cycle", json={"duty_cycle": "severe"}, headers=headers
    )
    refused = client.put(
        f"/api/v1/vehicles/{truck.vin}/maintenance/duty-cycle", json={"duty_cycle": "regional"}, headers=headers
    )

    assert (moved.status_code, moved.json["plan"]["code"], moved.json["items"][0]["next_due_km"]) == (
        200,
        "HOWO-SV",
        15000,
    )
    assert (refused.status_code, refused.json["error"]["field"]) == (400, "duty_cycle")
