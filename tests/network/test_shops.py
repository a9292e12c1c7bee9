"""Shops: creation and changes through the API, snapping, and bulk import without partial writes."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.security import Role
from network.models import Shop
from tests.factories import auth_header, make_user
from tests.network.factories import make_shop

VALID = {
    "code": "SHOP-ZZ1",
    "name": "郑州东服务区维修站",
    "lat": 34.75,
    "lon": 113.66,
    "phone": "0371-66001234",
    "services": ["repair", "tyres"],
    "bays": 3,
    "slot_minutes": 60,
    "opening_hours": "mon-sat 08:00-18:00",
}


def _shop_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Shop))


def test_create_shop_snaps_to_route_with_km_marker_and_side(client, session, routes):
    oem = make_user(session, Role.OEM_ADMIN)

    response = client.post("/api/v1/shops", json=VALID, headers=auth_header(session, oem))

    body = response.get_json()
    assert response.status_code == 201, body
    assert body["highway"] == "G4"
    assert 550 < body["km_marker"] < 750
    assert body["side"] in ("left", "right")
    assert body["province"] == "Henan"
    assert body["opening_hours"]["mon"] == [["08:00", "18:00"]]
    assert body["opening_hours"]["sun"] == []


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lat": 91}, "lat"),
        ({"lat": "north"}, "lat"),
        ({"lon": 200}, "lon"),
        ({"services": ["repair", "massage"]}, "services"),
        ({"bays": 0}, "bays"),
        ({"slot_minutes": 7}, "slot_minutes"),
        ({"opening_hours": "mon 18:00-08:00"}, "opening_hours.mon"),
        ({"opening_hours": "someday 08:00-18:00"}, "opening_hours"),
        ({"opening_hours": {}}, "opening_hours"),
        ({"status": "sleeping"}, "status"),
        ({"phone": "call me"}, "phone"),
        ({"code": "bad code!"}, "code"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_create_shop_rejects_bad_input_naming_the_field(client, session, routes, change, field):
    oem = make_user(session, Role.OEM_ADMIN)

    response = client.post("/api/v1/shops", json={**VALID, **change}, headers=auth_header(session, oem))

    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["field"] == field
    assert _shop_count(session) == 0


def test_create_shop_twice_conflicts(client, session, routes):
    headers = auth_header(session, make_user(session, Role.OEM_ADMIN))
    client.post("/api/v1/shops", json=VALID, headers=headers)

    response = client.post("/api/v1/shops", json=VALID, headers=headers)

    assert response.status_code == 409


def test_create_shop_needs_oem(client, session, routes):
    staff = make_user(session, Role.SHOP_STAFF)

    response = client.post("/api/v1/shops", json=VALID, headers=auth_header(session, staff))

    assert response.status_code == 403


def test_patch_shop_by_its_staff_changes_hours_and_bays(client, session, routes):
    shop = make_shop(session, routes)
    staff = make_user(session, Role.SHOP_STAFF, organization=shop.organization)

    response = client.patch(
        f"/api/v1/shops/{shop.code}",
        json={"bays": 5, "open_24h": False, "opening_hours": "mon-fri 09:00-17:00"},
        headers=auth_header(session, staff),
    )

    assert response.status_code == 200, response.get_json()
    assert response.get_json()["bays"] == 5
    assert response.get_json()["hours_text"] == "mon-fri 09:00-17:00"


@pytest.mark.parametrize(
    ("role", "own", "change", "status"),
    [
        (Role.SHOP_STAFF, False, {"bays": 3}, 403),
        (Role.SHOP_STAFF, True, {"status": "closed"}, 403),
        (Role.SHOP_STAFF, True, {"lat": 30.0, "lon": 114.0}, 403),
        (Role.DRIVER, False, {"bays": 3}, 403),
        (Role.OEM_ADMIN, False, {"status": "suspended"}, 200),
        (Role.OEM_ADMIN, False, {"lat": 30.0}, 400),
        (Role.OEM_ADMIN, False, {"rating": 5}, 400),
    ],
)
def test_patch_shop_permissions(client, session, routes, role, own, change, status):
    shop = make_shop(session, routes)
    user = make_user(session, role, organization=shop.organization if own else None)

    response = client.patch(f"/api/v1/shops/{shop.code}", json=change, headers=auth_header(session, user))

    assert response.status_code == status, response.get_json()


def test_patch_shop_location_resnaps(client, session, routes):
    shop = make_shop(session, routes)
    oem = make_user(session, Role.OEM_ADMIN)

    response = client.patch(
        f"/api/v1/shops/{shop.code}", json={"lat": 30.0, "lon": 90.0}, headers=auth_header(session, oem)
    )

    assert response.status_code == 200
    assert response.get_json()["highway"] is None


CSV = """code,name,lat,lon,services,bays,slot_minutes,open_24h,opening_hours
CSV-1,First,34.75,113.66,repair;tyres,2,60,false,mon-fri 08:00-18:00
CSV-2,Second,34.20,113.70,roadside,1,30,true,
"""


def test_shops_import_command_adds_all_rows(app, session, routes, tmp_path):
    path = tmp_path / "shops.csv"
    path.write_text(CSV)

    result = app.test_cli_runner().invoke(args=["shops", "import", str(path)])

    assert result.exit_code == 0, result.output
    assert "Imported 2 shops" in result.output
    assert _shop_count(session) == 2


def test_shops_import_with_broken_rows_reports_each_and_writes_nothing(app, session, routes, tmp_path):
    path = tmp_path / "shops.csv"
    path.write_text(
        CSV
        + "CSV-3,Third,95,113.0,repair,2,60,true,\n"
        + "CSV-1,Dup,34,113,repair,2,60,true,\n"
        + "CSV-4,Fourth,34,113,juggling,2,60,true,\n"
    )

    result = app.test_cli_runner().invoke(args=["shops", "import", str(path)])

    assert result.exit_code == 2
    assert "row 3: lat" in result.output
    assert "row 4: code" in result.output
    assert "row 5: services" in result.output
    assert _shop_count(session) == 0


def test_shops_import_geojson(app, session, routes, tmp_path):
    path = tmp_path / "shops.geojson"
    feature = {
        "type": "Feature",
        "properties": {"code": "GJ-1", "name": "Geo", "services": ["repair"], "open_24h": True},
        "geometry": {"type": "Point", "coordinates": [113.66, 34.75]},
    }
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))

    result = app.test_cli_runner().invoke(args=["shops", "import", str(path)])

    assert result.exit_code == 0, result.output
    assert _shop_count(session) == 1


def test_show_unknown_shop_is_404(client, routes):
    response = client.get("/api/v1/shops/NOPE")

    assert response.status_code == 404


def test_list_shops_pages_and_filters_by_service(client, session, routes):
    make_shop(session, services=["parts"])
    wanted = make_shop(session, services=["towing", "repair"])

    body = client.get("/api/v1/shops?service=towing&per_page=1").get_json()

    assert [item["code"] for item in body["items"]] == [wanted.code]
    assert body["total"] == 1
