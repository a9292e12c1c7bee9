"""Maintenance pages: the truck page's section, the driver's reading form, booking ahead, the OEM's plan editor."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from app.security import Role
from maintenance.models import MaintenancePlan, MeterReading, VehiclePlan
from tests.factories import PAGE_CSRF, make_driver, make_user, make_vehicle, sign_in_client
from tests.maintenance.factories import make_plan
from tests.network.factories import make_shop

EN = {"Accept-Language": "en"}


def _driver_with_due_truck(session, client):
    make_plan(session)
    driver, customer = make_driver(session)
    truck = make_vehicle(session, owner=customer, model="HOWO TX", sale_date=date.today(), odometer_km=4200)
    sign_in_client(client, driver)
    return driver, truck


def test_truck_page_shows_maintenance_due_and_book_now(client, session):
    _driver, truck = _driver_with_due_truck(session, client)

    page = client.get(f"/crm/vehicles/{truck.vin}", headers=EN).get_data(as_text=True)

    assert 'id="maintenance"' in page
    assert "Maintenance due" in page
    assert 'data-status="due_soon"' in page
    assert f"/maintenance/vehicles/{truck.vin}/book?service=maintenance" in page
    assert 'name="odometer_km"' in page


def test_staff_see_the_section_without_the_drivers_forms(client, session):
    make_plan(session)
    truck = make_vehicle(session, model="HOWO TX", sale_date=date.today(), odometer_km=4200)
    sign_in_client(client, make_user(session, Role.OEM_ADMIN))

    page = client.get(f"/crm/vehicles/{truck.vin}", headers=EN).get_data(as_text=True)

    assert 'data-status="due_soon"' in page
    assert 'name="odometer_km"' not in page


def test_driver_records_the_odometer_from_the_truck_page(client, session):
    _driver, truck = _driver_with_due_truck(session, client)

    response = client.post(f"/maintenance/vehicles/{truck.vin}", data={"csrf_token": PAGE_CSRF, "odometer_km": "5,300"})

    assert response.status_code == 302
    assert response.headers["Location"].endswith(f"/crm/vehicles/{truck.vin}#maintenance")
    assert session.scalars(select(MeterReading.value).where(MeterReading.vehicle_id == truck.id)).all() == [5300]


def test_a_backwards_odometer_on_the_page_is_400_with_the_reason(client, session):
    _driver, truck = _driver_with_due_truck(session, client)
    client.post(f"/maintenance/vehicles/{truck.vin}", data={"csrf_token": PAGE_CSRF, "odometer_km": "5300"})

    response = client.post(
        f"/maintenance/vehicles/{truck.vin}", data={"csrf_token": PAGE_CSRF, "odometer_km": "5000"}, headers=EN
    )

    assert response.status_code == 400
    assert "never go backwards" in response.get_data(as_text=True)


def test_a_strangers_truck_is_404_on_every_maintenance_page(client, session):
    _driver, _truck = _driver_with_due_truck(session, client)
    stranger = make_vehicle(session, model="HOWO TX")

    shown = client.get(f"/maintenance/vehicles/{stranger.vin}")
    booked = client.get(f"/maintenance/vehicles/{stranger.vin}/book")
    recorded = client.post(f"/maintenance/vehicles/{stranger.vin}", data={"csrf_token": PAGE_CSRF, "odometer_km": "1"})

    assert (shown.status_code, booked.status_code, recorded.status_code) == (404, 404, 404)


def test_book_page_lists_shops_offering_the_service_with_the_booking_prefilled(client, session):
    _driver, truck = _driver_with_due_truck(session, client)
    shop = make_shop(session, services=["maintenance"])
    make_shop(session, services=["tyres"], name="Tyres only")

    page = client.get(
        f"/maintenance/vehicles/{truck.vin}/book?service=maintenance&lat=34.75&lon=113.65", headers=EN
    ).get_data(as_text=True)

    assert shop.name in page
    assert "Tyres only" not in page
    assert f"/shops/{shop.code}?service=maintenance&amp;vin={truck.vin}#book" in page


def test_shop_page_preselects_the_truck_and_service_from_the_link(client, session):
    _driver, truck = _driver_with_due_truck(session, client)
    shop = make_shop(session, services=["repair", "maintenance"])

    page = client.get(f"/shops/{shop.code}?service=maintenance&vin={truck.vin}").get_data(as_text=True)

    assert '<option value="maintenance" selected>' in page
    assert f'<option value="{truck.vin}" selected>' in page


def test_my_maintenance_lists_the_drivers_trucks(client, session):
    _driver, truck = _driver_with_due_truck(session, client)

    page = client.get("/maintenance", headers=EN).get_data(as_text=True)

    assert f"/crm/vehicles/{truck.vin}#maintenance" in page
    assert 'data-status="due_soon"' in page


def test_oem_edits_a_plan_and_publishes_version_two(client, session):
    make_plan(session)
    sign_in_client(client, make_user(session, Role.OEM_ADMIN))
    form = {"csrf_token": PAGE_CSRF, "code": "HOWO-LH", "rows": "2", "model_prefix": "HOWO", "duty_cycle": "long_haul"}
    form |= {"items-0-service_code": "engine_oil", "items-0-every_km": "40000", "items-0-every_months": "6"}
    form |= {"items-1-service_code": "dpf_clean", "items-1-every_hours": "1500"}

    editor = client.get("/maintenance/plans/edit?code=HOWO-LH")
    response = client.post("/maintenance/plans/edit", data=form)
    listing = client.get("/maintenance/plans", headers=EN).get_data(as_text=True)

    plan = session.scalars(select(MaintenancePlan).where(MaintenancePlan.active.is_(True))).one()
    assert editor.status_code == 200
    assert response.status_code == 302
    assert (plan.version, [item.every_km for item in plan.items]) == (2, [40000, None])
    assert "v2" in listing


def test_a_plan_item_without_intervals_is_refused_on_the_page(client, session):
    sign_in_client(client, make_user(session, Role.OEM_ADMIN))
    form = {"csrf_token": PAGE_CSRF, "code": "NEW", "rows": "1", "model_prefix": "HOWO", "duty_cycle": "long_haul"}

    response = client.post("/maintenance/plans/edit", data={**form, "items-0-service_code": "engine_oil"})

    assert response.status_code == 400
    assert 'value="engine_oil"' in response.get_data(as_text=True)


def test_drivers_may_not_open_the_plan_editor(client, session):
    _driver_with_due_truck(session, client)

    assert client.get("/maintenance/plans/edit").status_code == 403


def test_driver_changes_the_duty_cycle_from_the_truck_page(client, session):
    _driver, truck = _driver_with_due_truck(session, client)
    make_plan(session, {"service_code": "engine_oil", "every_km": 15000}, code="HOWO-SV", duty_cycle="severe")

    page = client.get(f"/crm/vehicles/{truck.vin}").get_data(as_text=True)
    response = client.post(
        f"/maintenance/vehicles/{truck.vin}/duty-cycle", data={"csrf_token": PAGE_CSRF, "duty_cycle": "severe"}
    )
    refused = client.post(
        f"/maintenance/vehicles/{truck.vin}/duty-cycle", data={"csrf_token": PAGE_CSRF, "duty_cycle": "regional"}
    )

    assert 'name="duty_cycle"' in page
    assert response.status_code == 302
    assert session.get(VehiclePlan, truck.id).duty_cycle == "severe"
    assert refused.status_code == 400
