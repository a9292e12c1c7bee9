"""The shipped highway data set, importing another one, and the GeoJSON endpoint."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.errors import InvalidInput
from app.security import Role
from network.highways import import_highways
from network.models import Highway
from tests.factories import make_user
from tests.network.factories import make_shop


def test_highways_shipped_set_has_36_routes_with_ground_lengths(session, routes):
    g4 = session.scalar(select(Highway).where(Highway.code == "G4"))

    assert len(routes.routes) == 36
    assert g4.length_km == pytest.approx(2285.7, rel=0.01)


def test_highways_endpoint_returns_geojson(client, routes):
    response = client.get("/api/v1/highways")

    body = response.get_json()
    assert response.status_code == 200
    assert body["type"] == "FeatureCollection"
    assert {feature["properties"]["code"] for feature in body["features"]} >= {"G1", "G4", "G30"}


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ("not json", "file"),
        ({"type": "Feature"}, "file"),
        ({"type": "FeatureCollection", "features": []}, "features"),
        (
            {"type": "FeatureCollection", "features": [{"properties": {}, "geometry": None}]},
            "features[0].properties.code",
        ),
        (
            {"type": "FeatureCollection", "features": [{"properties": {"code": "X1"}, "geometry": {"type": "Point"}}]},
            "features[0].geometry",
        ),
        (
            {
                "type": "FeatureCollection",
                "features": [
                    {"properties": {"code": "X1"}, "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}},
                    {
                        "properties": {"code": "X2"},
                        "geometry": {"type": "LineString", "coordinates": [[0, 0], [1, 99]]},
                    },
                ],
            },
            "features[1].geometry",
        ),
    ],
)
def test_import_highways_rejects_broken_files_without_writing(session, routes, document, field):
    text = document if isinstance(document, str) else json.dumps(document)

    with pytest.raises(InvalidInput) as raised:
        import_highways(session, text)

    assert raised.value.field == field
    assert session.scalar(select(func.count()).select_from(Highway)) == 36


def test_highways_import_command_replaces_routes_and_resnaps_shops(app, session, routes, tmp_path):
    shop = make_shop(session, routes, lat=34.75, lon=113.66)
    path = tmp_path / "one.geojson"
    line = {"type": "LineString", "coordinates": [[113.66, 34.0], [113.66, 35.5]]}
    path.write_text(
        json.dumps({"type": "FeatureCollection", "features": [{"properties": {"code": "X9"}, "geometry": line}]})
    )

    result = app.test_cli_runner().invoke(args=["highways", "import", str(path)])

    session.expire_all()
    assert result.exit_code == 0, result.output
    assert "Imported 1 routes" in result.output
    assert session.scalar(select(func.count()).select_from(Highway)) == 1
    assert shop.highway.code == "X9"
    assert shop.km_marker == pytest.approx(83.4, abs=1.0)


def test_highways_import_command_reports_errors_with_exit_code(app, routes, tmp_path):
    path = tmp_path / "bad.geojson"
    path.write_text("{}")

    result = app.test_cli_runner().invoke(args=["highways", "import", str(path)])

    assert result.exit_code == 2
    assert "FeatureCollection" in result.output


def test_oem_user_factory_smoke(session):
    assert make_user(session, Role.OEM_ADMIN).role == Role.OEM_ADMIN
