"""The part catalogue: creating part types (GTIN issued or checked) and listing them."""

from __future__ import annotations

import pytest

from app.security import Role
from tests.factories import auth_header, make_user
from traceability.codes import normalize_gtin

BODY = {
    "part_number": "wg9925520270",
    "name_zh": "前制动蹄片总成",
    "name_en": "Front brake shoe assembly",
    "category": "brakes",
    "guide_price": "386.50",
    "warranty_months": 12,
}


def test_create_part_type_issues_gtin_from_company_prefix(session, client):
    headers = auth_header(session, make_user(session, Role.OEM_ADMIN))

    response = client.post("/api/v1/part-types", json=BODY, headers=headers)

    assert response.status_code == 201
    assert response.json["part_number"] == "WG9925520270"
    assert response.json["gtin"].startswith("06901234")
    assert normalize_gtin(response.json["gtin"]) == response.json["gtin"]
    assert response.json["guide_price"] == "386.50"


def test_create_part_type_pads_given_gtin13(session, client):
    headers = auth_header(session, make_user(session, Role.OEM_ADMIN))

    response = client.post("/api/v1/part-types", json={**BODY, "gtin": "6901234567892"}, headers=headers)

    assert response.json["gtin"] == "06901234567892"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"gtin": "6901234567891"}, "gtin"),
        ({"category": "snacks"}, "category"),
        ({"guide_price": "-1"}, "guide_price"),
        ({"warranty_months": 500}, "warranty_months"),
        ({"name_zh": ""}, "name_zh"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_create_part_type_rejects_bad_fields(session, client, changes, field):
    headers = auth_header(session, make_user(session, Role.OEM_ADMIN))

    response = client.post("/api/v1/part-types", json={**BODY, **changes}, headers=headers)

    assert response.status_code == 400
    assert response.json["error"]["field"] == field


def test_create_part_type_refuses_duplicate_part_number(session, client):
    headers = auth_header(session, make_user(session, Role.OEM_ADMIN))
    client.post("/api/v1/part-types", json=BODY, headers=headers)

    response = client.post("/api/v1/part-types", json=BODY, headers=headers)

    assert response.status_code == 409


def test_create_part_type_needs_oem(session, client):
    headers = auth_header(session, make_user(session, Role.DEALER_STAFF))

    response = client.post("/api/v1/part-types", json=BODY, headers=headers)

    assert response.status_code == 403


def test_list_part_types_is_public_and_filters(session, client):
    headers = auth_header(session, make_user(session, Role.OEM_ADMIN))
    client.post("/api/v1/part-types", json=BODY, headers=headers)
    client.post(
        "/api/v1/part-types", json={**BODY, "part_number": "VG1540080311", "category": "filters"}, headers=headers
    )

    response = client.get("/api/v1/part-types?category=brakes")

    assert response.status_code == 200
    assert [item["part_number"] for item in response.json["items"]] == ["WG9925520270"]
