"""The knowledge JSON API: lookup, search, telematics faults, check-in codes and fixes, trends, articles."""

from __future__ import annotations

import pytest

from app.security import Role
from knowledge.entries import install_shipped_entries
from tests.factories import auth_header, make_driver, make_organization, make_user, make_vehicle
from tests.knowledge.factories import make_booking


@pytest.fixture
def shipped(session):
    install_shipped_entries(session)


def test_lookup_answers_with_verdict_fmi_meaning_and_service(client, shipped):
    body = client.get("/api/v1/faults/lookup?code=SPN%20100%20FMI%201").get_json()

    assert (body["verdict"], body["may_continue"], body["service"], body["matched"]) == (
        "stop",
        "no",
        "engine",
        "code_fmi",
    )
    assert body["code"]["spn"] == 100 and body["fmi_meaning"]
    assert body["common_fixes"] == [] and body["articles"] == []


def test_lookup_of_an_unknown_code_says_unknown(client, shipped):
    body = client.get("/api/v1/faults/lookup?code=520000/4&lang=en").get_json()

    assert (body["verdict"], body["title"], body["fmi_meaning"]) == (
        "unknown",
        None,
        "voltage too low, or the wire is shorted to ground",
    )


@pytest.mark.parametrize(("code", "field"), [("SPN 600000 FMI 3", "spn"), ("100/32", "fmi"), ("hello", "code")])
def test_lookup_bad_codes_are_400_naming_the_field(client, shipped, code, field):
    response = client.get("/api/v1/faults/lookup", query_string={"code": code})

    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field


def test_lookup_with_someone_elses_vin_is_404(client, session, shipped):
    user, _customer = make_driver(session)

    response = client.get(
        f"/api/v1/faults/lookup?code=100/1&vin={make_vehicle(session).vin}", headers=auth_header(session, user)
    )

    assert response.status_code == 404


def test_search_finds_entries_in_chinese(client, shipped):
    body = client.get("/api/v1/faults/search", query_string={"q": "尿素"}).get_json()

    assert "1761" in [item["code"] for item in body["entries"]]


def test_telematics_report_with_dm1_by_the_oems_platform(client, session):
    vehicle = make_vehicle(session)
    headers = auth_header(session, make_user(session, Role.OEM_ADMIN))

    first = client.post(
        f"/api/v1/vehicles/{vehicle.vin}/faults",
        json={"dm1": "14 FF B3 0C 00 01 64 00 01 81", "source_address": 0, "snapshot": True},
        headers=headers,
    )
    second = client.post(
        f"/api/v1/vehicles/{vehicle.vin}/faults",
        json={"dm1": "04 FF B3 0C 00 02", "source_address": 0, "snapshot": True},
        headers=headers,
    )

    assert first.status_code == 200
    assert [item["code"] for item in first.get_json()["reported"]] == ["3251/0", "100/1"]
    assert [(item["code"], item["reports"]) for item in second.get_json()["reported"]] == [("3251/0", 2)]
    assert [item["code"] for item in second.get_json()["inactive"]] == ["100/1"]
    history = client.get(f"/api/v1/vehicles/{vehicle.vin}/faults", headers=headers).get_json()
    assert [(item["code"], item["active"]) for item in history["items"]] == [("3251/0", True), ("100/1", False)]


def test_telematics_report_by_another_fleet_is_forbidden_and_drivers_may_not_post(client, session):
    fleet = make_organization(session, kind="fleet")
    vehicle = make_vehicle(session)
    other_platform = make_user(session, Role.DEALER_STAFF, organization=fleet)
    driver, customer = make_driver(session)

    forbidden = client.post(
        f"/api/v1/vehicles/{vehicle.vin}/faults",
        json={"codes": ["100/1"]},
        headers=auth_header(session, other_platform),
    )
    by_driver = client.post(
        f"/api/v1/vehicles/{vehicle.vin}/faults", json={"codes": ["100/1"]}, headers=auth_header(session, driver)
    )

    assert (forbidden.status_code, by_driver.status_code) == (403, 403)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"dm1": "zz"}, "dm1"),
        ({"codes": ["100/40"]}, "fmi"),
        ({"codes": []}, "codes"),
        ({"source_address": 300}, "source_address"),
    ],
)
def test_telematics_bad_input_is_400_naming_the_field(client, session, body, field):
    vehicle = make_vehicle(session)

    response = client.post(
        f"/api/v1/vehicles/{vehicle.vin}/faults",
        json=body,
        headers=auth_header(session, make_user(session, Role.OEM_ADMIN)),
    )

    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field


def test_shop_enters_codes_at_check_in_and_records_the_fix(client, session):
    booking = make_booking(session, status="checked_in")
    headers = auth_header(session, make_user(session, Role.SHOP_STAFF, organization=booking.shop.organization))

    entered = client.post(f"/api/v1/bookings/{booking.id}/faults", json={"codes": ["3251/0"]}, headers=headers)
    fault_id = entered.get_json()["items"][0]["id"]
    fixed = client.post(
        f"/api/v1/bookings/{booking.id}/fixes", json={"fault_id": fault_id, "kind": "cleaning"}, headers=headers
    )

    assert (entered.status_code, fixed.status_code) == (201, 201)
    assert fixed.get_json()["case_ref"] == f"booking:{booking.id}"


def test_another_shop_cannot_record_a_fix(client, session):
    booking = make_booking(session, status="checked_in")
    own = auth_header(session, make_user(session, Role.SHOP_STAFF, organization=booking.shop.organization))
    fault_id = client.post(f"/api/v1/bookings/{booking.id}/faults", json={"codes": ["3251/0"]}, headers=own).get_json()[
        "items"
    ][0]["id"]

    response = client.post(
        f"/api/v1/bookings/{booking.id}/fixes",
        json={"fault_id": fault_id, "kind": "cleaning"},
        headers=auth_header(session, make_user(session, Role.SHOP_STAFF)),
    )

    assert response.status_code == 403


def test_trends_are_for_the_oem(client, session):
    booking = make_booking(session, status="checked_in")
    staff = auth_header(session, make_user(session, Role.SHOP_STAFF, organization=booking.shop.organization))
    client.post(f"/api/v1/bookings/{booking.id}/faults", json={"codes": ["3251/0"]}, headers=staff)

    oem = client.get("/api/v1/faults/trends?days=7", headers=auth_header(session, make_user(session, Role.OEM_ADMIN)))
    shop = client.get("/api/v1/faults/trends", headers=staff)

    assert [(row["code"], row["trucks"]) for row in oem.get_json()["items"]] == [("3251/0", 1)]
    assert shop.status_code == 403


def test_oem_writes_an_article_and_the_public_reads_it_sanitized(client, session):
    headers = auth_header(session, make_user(session, Role.OEM_ADMIN))
    article = {
        "slug": "oil",
        "title": {"zh": "机油压力", "en": "Oil pressure"},
        "body": {"zh": "**停车** <script>x()</script>", "en": ""},
        "codes": ["100/1"],
        "publish": True,
    }

    created = client.post("/api/v1/articles", json=article, headers=headers)
    shown = client.get("/api/v1/articles/oil").get_json()
    linked = client.get("/api/v1/faults/lookup?code=100/1").get_json()

    assert created.status_code == 201
    assert "<strong>停车</strong>" in shown["html"] and "<script>" not in shown["html"]
    assert [item["slug"] for item in linked["articles"]] == ["oil"]


def test_the_lookup_is_in_the_openapi_document(client):
    document = client.get("/api/v1/openapi.json").get_json()

    assert "/api/v1/faults/lookup" in document["paths"]
    assert "post" in document["paths"]["/api/v1/vehicles/{vin}/faults"]


@pytest.mark.parametrize("observed_at", ["2026-01-01T10:00:00", "2999-01-01T00:00:00+08:00", "yesterday"])
def test_telematics_report_times_need_an_offset_and_cannot_be_future(client, session, observed_at):
    vehicle = make_vehicle(session)

    response = client.post(
        f"/api/v1/vehicles/{vehicle.vin}/faults",
        json={"codes": ["100/1"], "observed_at": observed_at},
        headers=auth_header(session, make_user(session, Role.OEM_ADMIN)),
    )

    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "observed_at"
