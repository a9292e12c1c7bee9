"""CRM API: object-level visibility, phone masking, registration, vehicles and ownership transfers."""

from __future__ import annotations

import pytest

from app.security import STAFF_ROLES, Role
from tests.factories import (
    auth_header,
    make_customer,
    make_driver,
    make_organization,
    make_user,
    make_vehicle,
    random_vin,
    register_with_code,
    request_code,
    texted_code,
)

STAFF = sorted(STAFF_ROLES)


def test_driver_sees_own_customer_record_with_full_phone(client, session):
    driver, customer = make_driver(session)

    response = client.get(f"/api/v1/customers/{customer.id}", headers=auth_header(session, driver))

    assert response.status_code == 200
    assert response.json["phone"] == customer.phone


def test_driver_cannot_see_another_customer(client, session):
    driver, _customer = make_driver(session)
    other = make_customer(session)

    response = client.get(f"/api/v1/customers/{other.id}", headers=auth_header(session, driver))

    assert response.status_code == 403


@pytest.mark.parametrize("role", STAFF)
def test_customer_phone_is_masked_for_all_staff_but_the_oem(client, session, role):
    customer = make_customer(session, phone="13812345678")
    staff = make_user(session, role)
    make_vehicle(session, owner=customer, dealer_id=staff.organization_id)  # related: they sold it

    response = client.get(f"/api/v1/customers/{customer.id}", headers=auth_header(session, staff))

    assert response.json["phone"] == ("13812345678" if role == Role.OEM_ADMIN else "138****5678")


def test_fleet_staff_see_their_fleets_customers_in_full(client, session):
    fleet = make_organization(session, kind="fleet")
    customer = make_customer(session, phone="13812345678", fleet=fleet)
    fleet_staff = make_user(session, Role.DEALER_STAFF, organization=fleet)

    response = client.get(f"/api/v1/customers/{customer.id}", headers=auth_header(session, fleet_staff))

    assert response.json["phone"] == "13812345678"


def test_driver_lists_only_own_vehicles(client, session):
    driver, customer = make_driver(session)
    own = make_vehicle(session, owner=customer)
    make_vehicle(session)

    response = client.get("/api/v1/vehicles", headers=auth_header(session, driver))

    assert [item["vin"] for item in response.json["items"]] == [own.vin]


def test_driver_gets_404_for_someone_elses_vehicle(client, session):
    driver, _customer = make_driver(session)
    other = make_vehicle(session)

    response = client.get(f"/api/v1/vehicles/{other.vin}", headers=auth_header(session, driver))

    assert response.status_code == 404


@pytest.mark.parametrize("role", [role for role in STAFF if role != Role.OEM_ADMIN])
def test_staff_must_give_a_search_term(client, session, role):
    response = client.get("/api/v1/vehicles", headers=auth_header(session, make_user(session, role)))

    assert response.status_code == 400
    assert response.json["error"]["field"] == "q"


@pytest.mark.parametrize("term", ["vin", "vin-start", "plate", "phone"])
def test_vehicle_search_matches_vin_plate_or_phone(client, session, term):
    customer = make_customer(session, phone="13812345678")
    vehicle = make_vehicle(session, owner=customer, plate="豫A12345")
    make_vehicle(session)
    query = {"vin": vehicle.vin.lower(), "vin-start": vehicle.vin[:11], "plate": "豫A12345", "phone": "138 1234 5678"}

    response = client.get(
        "/api/v1/vehicles", query_string={"q": query[term]}, headers=auth_header(session, make_user(session))
    )

    assert vehicle.vin in [item["vin"] for item in response.json["items"]]


def test_vehicle_search_treats_like_wildcards_literally(client, session):
    make_vehicle(session)

    response = client.get("/api/v1/vehicles?q=%25", headers=auth_header(session, make_user(session)))

    assert response.json["total"] == 0


def test_driver_registers_with_the_texted_code_and_gets_a_token(client, session):
    registered = register_with_code(client, "13955556666")
    token = client.post("/api/v1/auth/tokens", json={"phone": "13955556666", "password": "long-enough-1"})

    assert registered.status_code == 201
    assert registered.json["phone"] == "13955556666"
    assert token.status_code == 201


def test_registration_without_the_texted_code_claims_nothing(client, session):
    victim = make_customer(session, phone="13912345678", name="王师傅")
    truck = make_vehicle(session, owner=victim)
    request_code(client, "13912345678")

    response = client.post(
        "/api/v1/auth/register",
        json={"name": "x", "phone": "13912345678", "password": "attacker-pw-1", "code": "000000"},
    )
    token = client.post("/api/v1/auth/tokens", json={"phone": "13912345678", "password": "attacker-pw-1"})

    assert response.status_code == 401
    assert response.json["error"]["field"] == "code"
    assert token.status_code == 401
    assert victim.user_id is None and truck.owner_id == victim.id


def test_registration_without_a_code_is_a_400_naming_it(client, session):
    response = client.post(
        "/api/v1/auth/register", json={"name": "周", "phone": "13955556666", "password": "long-enough-1"}
    )

    assert response.status_code == 400
    assert response.json["error"]["field"] == "code"


def test_registration_claims_a_record_a_dealer_made_once_the_phone_is_proven(client, session):
    existing = make_customer(session, phone="13955556666")

    response = register_with_code(client, "13955556666")

    assert response.json["id"] == existing.id
    assert response.json["has_account"] is True


def test_registration_twice_is_a_conflict(client, session):
    register_with_code(client, "13955556666")

    response = register_with_code(client, "13955556666")

    assert response.status_code == 409
    assert response.json["error"]["field"] == "phone"


def test_phone_code_answer_is_the_same_for_registered_and_unknown_numbers(client, session):
    driver, _customer = make_driver(session)

    known = request_code(client, driver.phone)
    unknown = request_code(client, "13700001111")

    assert known.status_code == unknown.status_code == 202
    assert set(known.json) == set(unknown.json) == {"phone", "expires_at"}


def test_registrations_are_limited_per_client_address(app, client, session):
    app.config["REGISTRATIONS_PER_CLIENT_HOUR"] = 2
    for number in range(2):
        assert register_with_code(client, f"1395555000{number}").status_code == 201

    response = register_with_code(client, "13955550009")

    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) > 0


@pytest.mark.parametrize(
    ("phone", "password", "field"),
    [
        ("12345", "long-enough-1", "phone"),
        ("13٩55556666", "long-enough-1", "phone"),
        ("13955556666", "short", "password"),
        ("13955556666", "12345678", "password"),
        ("13955556666", "password", "password"),
        ("13955556666", "qwertyuiop", "password"),
        ("13955556666", "woaini1314", "password"),
        ("13955556666", "13955556666", "password"),
        ("13955556666", "x13955556666", "password"),
    ],
)
def test_registration_rejects_bad_input(client, session, phone, password, field):
    request_code(client, "13955556666")
    body = {"name": "周", "phone": phone, "password": password, "code": "123456"}

    response = client.post("/api/v1/auth/register", json=body)

    assert response.status_code == 400
    assert response.json["error"]["field"] == field


def test_registration_with_a_refused_password_keeps_the_code(client, session):
    request_code(client, "13955556666")
    code = texted_code(client.application, "13955556666")
    body = {"name": "周", "phone": "13955556666", "code": code}

    refused = client.post("/api/v1/auth/register", json={**body, "password": "password"})
    accepted = client.post("/api/v1/auth/register", json={**body, "password": "long-enough-1"})

    assert refused.status_code == 400
    assert accepted.status_code == 201


def test_dealer_registers_a_vehicle_for_a_customer(client, session):
    customer = make_customer(session)
    dealer_org = make_organization(session, kind="dealer", code="DLR-9")
    dealer = make_user(session, Role.DEALER_STAFF, organization=dealer_org)
    vin = random_vin()

    response = client.post(
        "/api/v1/vehicles",
        json={"vin": vin.lower(), "model": "HOWO TX", "owner_id": customer.id, "plate": "豫a12345", "dealer": "dlr-9"},
        headers=auth_header(session, dealer),
    )

    assert response.status_code == 201
    assert (response.json["vin"], response.json["plate"], response.json["province"]) == (vin, "豫A12345", "Henan")
    assert response.json["dealer"] == "DLR-9"


def test_vehicle_with_a_bad_check_digit_is_refused(client, session):
    customer = make_customer(session)
    vin = random_vin()
    wrong = vin[:8] + ("0" if vin[8] != "0" else "1") + vin[9:]

    response = client.post(
        "/api/v1/vehicles",
        json={"vin": wrong, "model": "HOWO", "owner_id": customer.id},
        headers=auth_header(session, make_user(session)),
    )

    assert response.status_code == 400
    assert response.json["error"]["field"] == "vin"


def test_duplicate_vin_is_a_conflict(client, session):
    vehicle = make_vehicle(session)

    response = client.post(
        "/api/v1/vehicles",
        json={"vin": vehicle.vin, "model": "HOWO", "owner_id": vehicle.owner_id},
        headers=auth_header(session, make_user(session)),
    )

    assert response.status_code == 409


def test_driver_registers_own_vehicle_but_not_for_others(client, session):
    driver, _customer = make_driver(session)
    other = make_customer(session)
    headers = auth_header(session, driver)

    own = client.post("/api/v1/vehicles", json={"vin": random_vin(), "model": "HOWO"}, headers=headers)
    foreign = client.post(
        "/api/v1/vehicles", json={"vin": random_vin(), "model": "HOWO", "owner_id": other.id}, headers=headers
    )

    assert own.status_code == 201
    assert foreign.status_code == 403


def test_transfer_keeps_the_ownership_history(client, session):
    first, second = make_customer(session, name="甲"), make_customer(session, name="乙")
    vehicle = make_vehicle(session, owner=first)

    response = client.post(
        f"/api/v1/vehicles/{vehicle.vin}/transfer",
        json={"to_customer": second.id, "note": "sold"},
        headers=auth_header(session, make_user(session)),
    )

    history = response.json["ownership"]
    assert response.status_code == 200
    assert [period["customer"] for period in history] == ["甲", "乙"]
    assert history[0]["ended_at"] is not None and history[1]["ended_at"] is None


def test_any_dealer_may_not_transfer_any_vehicle_but_the_selling_dealer_may(client, session):
    selling = make_organization(session, kind="dealer")
    truck = make_vehicle(session, dealer_id=selling.id)
    accomplice = make_customer(session)

    stranger = client.post(
        f"/api/v1/vehicles/{truck.vin}/transfer",
        json={"to_customer": accomplice.id},
        headers=auth_header(session, make_user(session, Role.DEALER_STAFF)),
    )
    seller = client.post(
        f"/api/v1/vehicles/{truck.vin}/transfer",
        json={"to_customer": accomplice.id},
        headers=auth_header(session, make_user(session, Role.DEALER_STAFF, organization=selling)),
    )

    session.refresh(truck)
    assert stranger.status_code == 403
    assert seller.status_code == 200 and truck.owner_id == accomplice.id


def test_owner_offers_a_vehicle_and_it_moves_only_when_the_new_owner_confirms(client, session):
    owner, customer = make_driver(session)
    buyer_user, buyer = make_driver(session)
    stranger, _ = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)

    offered = client.post(
        f"/api/v1/vehicles/{vehicle.vin}/transfer", json={"to_customer": buyer.id}, headers=auth_header(session, owner)
    )
    waiting = client.get("/api/v1/vehicle-transfers", headers=auth_header(session, buyer_user))
    transfer_id = offered.json["transfer"]
    by_stranger = client.post(
        f"/api/v1/vehicle-transfers/{transfer_id}/confirm", headers=auth_header(session, stranger)
    )
    session.refresh(vehicle)
    still_owner = vehicle.owner_id
    confirmed = client.post(
        f"/api/v1/vehicle-transfers/{transfer_id}/confirm", headers=auth_header(session, buyer_user)
    )

    session.refresh(vehicle)
    assert offered.status_code == 202
    assert [item["vin"] for item in waiting.json["items"]] == [vehicle.vin]
    assert by_stranger.status_code == 404 and still_owner == customer.id
    assert confirmed.status_code == 200 and vehicle.owner_id == buyer.id
    assert (
        client.post(
            f"/api/v1/vehicle-transfers/{transfer_id}/confirm", headers=auth_header(session, buyer_user)
        ).status_code
        == 409
    )


def test_another_driver_may_not_transfer_a_vehicle(client, session):
    _owner, customer = make_driver(session)
    stranger, _ = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)

    refused = client.post(
        f"/api/v1/vehicles/{vehicle.vin}/transfer",
        json={"to_customer": make_customer(session).id},
        headers=auth_header(session, stranger),
    )

    assert refused.status_code == 404


@pytest.mark.parametrize(("target", "status"), [("self", 409), ("missing", 404)])
def test_transfer_to_the_same_or_a_missing_customer_is_refused(client, session, target, status):
    vehicle = make_vehicle(session)
    to_customer = vehicle.owner_id if target == "self" else 999999

    response = client.post(
        f"/api/v1/vehicles/{vehicle.vin}/transfer",
        json={"to_customer": to_customer},
        headers=auth_header(session, make_user(session)),
    )

    assert response.status_code == status


def test_organization_created_with_dms_coordinates(client, session):
    response = client.post(
        "/api/v1/organizations",
        json={"kind": "shop", "code": "shop-1", "name": "x", "province": "豫", "lat": "34°45'N", "lon": "113°37'30\"E"},
        headers=auth_header(session, make_user(session)),
    )

    assert response.status_code == 201
    assert (response.json["code"], response.json["province"]) == ("SHOP-1", "Henan")
    assert response.json["lat"] == pytest.approx(34.75) and response.json["lon"] == pytest.approx(113.625)


def test_duplicate_organization_code_is_a_conflict(client, session):
    make_organization(session, code="DUP-1")

    response = client.post(
        "/api/v1/organizations",
        json={"kind": "shop", "code": "dup-1", "name": "x"},
        headers=auth_header(session, make_user(session)),
    )

    assert response.status_code == 409


def test_customer_search_by_phone_masks_for_dealers(client, session):
    make_customer(session, phone="13812345678")

    response = client.get(
        "/api/v1/customers?q=13812345678", headers=auth_header(session, make_user(session, Role.DEALER_STAFF))
    )

    assert [item["phone"] for item in response.json["items"]] == ["138****5678"]


def test_staff_list_only_vehicles_related_to_their_organization(client, session):
    dealer_org = make_organization(session, kind="dealer")
    dealer = make_user(session, Role.DEALER_STAFF, organization=dealer_org)
    sold = make_vehicle(session, dealer_id=dealer_org.id, plate="豫A11111")
    other = make_vehicle(session, plate="豫A22222")

    by_prefix = client.get("/api/v1/vehicles?q=LZZ", headers=auth_header(session, dealer))

    assert [item["vin"] for item in by_prefix.json["items"]] == [sold.vin]
    assert other.vin not in str(by_prefix.json)


@pytest.mark.parametrize("query", ["vin", "plate"])
def test_staff_find_an_unrelated_vehicle_only_by_exact_vin_or_plate_and_masked(client, session, query):
    dealer = make_user(session, Role.DEALER_STAFF)
    owner = make_customer(session, name="王大明", phone="13912345678")
    other = make_vehicle(session, owner=owner, plate="豫A22222")

    response = client.get(
        "/api/v1/vehicles",
        query_string={"q": other.vin if query == "vin" else "豫A22222"},
        headers=auth_header(session, dealer),
    )

    [item] = response.json["items"]
    assert item["owner"]["name"] == "王**"
    assert item["owner"]["phone"] == "139****5678"


def test_staff_cannot_read_an_unrelated_customer_by_id(client, session):
    dealer_org = make_organization(session, kind="dealer")
    dealer = make_user(session, Role.DEALER_STAFF, organization=dealer_org)
    stranger = make_customer(session)
    customer = make_customer(session)
    make_vehicle(session, owner=customer, dealer_id=dealer_org.id)

    unrelated = client.get(f"/api/v1/customers/{stranger.id}", headers=auth_header(session, dealer))
    related = client.get(f"/api/v1/customers/{customer.id}", headers=auth_header(session, dealer))

    assert unrelated.status_code == 404
    assert related.status_code == 200


def test_a_shop_sees_the_trucks_booked_with_it(client, session):
    from datetime import timedelta

    from app.db import utcnow
    from network.models import Booking
    from tests.network.factories import make_shop

    shop = make_shop(session)
    staff = make_user(session, Role.SHOP_STAFF, organization=shop.organization)
    vehicle = make_vehicle(session)
    start = utcnow() + timedelta(days=1)
    session.add(
        Booking(
            shop_id=shop.id,
            vehicle_id=vehicle.id,
            customer_id=vehicle.owner_id,
            service="repair",
            start=start,
            end=start + timedelta(hours=1),
        )
    )
    session.flush()

    response = client.get(f"/api/v1/customers/{vehicle.owner_id}", headers=auth_header(session, staff))

    assert response.status_code == 200


# Issue 10 row 7 (CRM): a driver's self-registered VIN is unverified and never blocks the real buyer's dealer.


def _self_registered(client, session):
    driver, _customer = make_driver(session)
    vin = random_vin()
    response = client.post("/api/v1/vehicles", json={"vin": vin, "model": "HOWO"}, headers=auth_header(session, driver))
    assert response.status_code == 201
    return driver, vin, response


def test_a_drivers_self_registered_vin_is_unverified(client, session):
    _driver, _vin, response = _self_registered(client, session)

    assert response.json["verified"] is False


def test_the_selling_dealer_registers_a_vin_a_stranger_self_registered_and_it_becomes_the_buyers(client, session):
    squatter, vin, _response = _self_registered(client, session)
    buyer = make_customer(session)
    dealer_org = make_organization(session, kind="dealer", code="DLR-77")
    dealer = make_user(session, Role.DEALER_STAFF, organization=dealer_org)

    sold = client.post(
        "/api/v1/vehicles",
        json={"vin": vin, "model": "HOWO TX", "owner_id": buyer.id, "dealer": "DLR-77"},
        headers=auth_header(session, dealer),
    )
    squatters_view = client.get(f"/api/v1/vehicles/{vin}", headers=auth_header(session, squatter))

    assert sold.status_code == 201, sold.json
    assert (sold.json["verified"], sold.json["dealer"], sold.json["model"]) == (True, "DLR-77", "HOWO TX")
    assert squatters_view.status_code == 404
    from app.crm.activity import select_activity

    assert session.scalars(select_activity(action="crm.unverified_vehicle_replaced")).first() is not None


def test_a_verified_vin_still_conflicts_for_another_dealer(client, session):
    vehicle = make_vehicle(session)
    dealer = make_user(session, Role.DEALER_STAFF)

    response = client.post(
        "/api/v1/vehicles",
        json={"vin": vehicle.vin, "model": "HOWO", "owner_id": make_customer(session).id},
        headers=auth_header(session, dealer),
    )

    assert response.status_code == 409


def test_a_second_driver_cannot_take_an_unverified_vin(client, session):
    _first, vin, _response = _self_registered(client, session)
    second, _customer = make_driver(session)

    response = client.post("/api/v1/vehicles", json={"vin": vin, "model": "HOWO"}, headers=auth_header(session, second))

    assert response.status_code == 409


def test_the_oem_verifies_a_self_registered_vin(client, session):
    _driver, vin, _response = _self_registered(client, session)
    oem = make_user(session, Role.OEM_ADMIN)

    verified = client.post(f"/api/v1/vehicles/{vin}/verify", json={}, headers=auth_header(session, oem))
    refused = client.post(
        f"/api/v1/vehicles/{vin}/verify", json={}, headers=auth_header(session, make_user(session, Role.DEALER_STAFF))
    )

    assert verified.status_code == 200 and verified.json["verified"] is True
    assert refused.status_code == 403
