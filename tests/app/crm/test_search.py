"""CRM search as the call center uses it: a VIN by its last six characters, organizations by name."""

from __future__ import annotations

from app.security import Role
from tests.factories import auth_header, make_organization, make_user, make_vehicle, sign_in_client


def vins(response) -> list[str]:
    return [item["vin"] for item in response.json["items"]]


def test_the_oem_finds_a_vehicle_by_the_last_six_vin_characters(client, session):
    vehicle = make_vehicle(session)
    make_vehicle(session)
    headers = auth_header(session, make_user(session))

    response = client.get("/api/v1/vehicles", query_string={"q": vehicle.vin[-6:].lower()}, headers=headers)

    assert vins(response) == [vehicle.vin]


def test_staff_find_only_related_vehicles_by_the_vin_tail(client, session):
    dealer_org = make_organization(session, kind="dealer")
    dealer = make_user(session, Role.DEALER_STAFF, organization=dealer_org)
    sold = make_vehicle(session, dealer_id=dealer_org.id)
    other = make_vehicle(session)

    mine = client.get("/api/v1/vehicles", query_string={"q": sold.vin[-6:]}, headers=auth_header(session, dealer))
    theirs = client.get("/api/v1/vehicles", query_string={"q": other.vin[-6:]}, headers=auth_header(session, dealer))

    assert (vins(mine), vins(theirs)) == ([sold.vin], [])


def test_the_vehicle_search_page_finds_the_vin_tail_and_names_the_dealer(client, session):
    dealer = make_organization(session, kind="dealer", name="郑州宇通重卡销售", code="DLR-77")
    vehicle = make_vehicle(session, dealer_id=dealer.id)
    sign_in_client(client, make_user(session))

    listing = client.get(f"/crm/vehicles?q={vehicle.vin[-6:]}").get_data(as_text=True)
    record = client.get(f"/crm/vehicles/{vehicle.vin}").get_data(as_text=True)

    assert f"/crm/vehicles/{vehicle.vin}" in listing
    assert "郑州宇通重卡销售" in record


def test_organizations_are_found_by_name_on_the_page_and_the_api(client, session):
    wanted = make_organization(session, kind="dealer", name="洛阳重卡服务中心")
    make_organization(session, kind="dealer", name="郑州配件仓")
    staff = make_user(session)
    sign_in_client(client, staff)

    page = client.get("/crm/organizations?q=洛阳").get_data(as_text=True)
    body = client.get("/api/v1/organizations", query_string={"q": "洛阳"}, headers=auth_header(session, staff)).json

    assert wanted.code in page and "郑州配件仓" not in page
    assert [item["code"] for item in body["items"]] == [wanted.code]
