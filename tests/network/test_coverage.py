"""Coverage: exact against brute force, corridors counted once, gaps, greedy recommendations, capacity."""

from __future__ import annotations

import json

import numpy as np
import pytest

from app.security import Role
from network.coverage import (
    build_samples,
    covered_samples,
    covered_samples_brute_force,
    find_gaps,
    recommend_sites,
)
from network.routes import Route, RouteNetwork
from tests.factories import auth_header, make_user, make_vehicle
from tests.network.factories import make_shop


def _line(code, coordinates):
    return Route.from_geometry(code, code, code, {"type": "LineString", "coordinates": coordinates})


def test_shared_corridor_counts_once():
    first = _line("A1", [[113.0, 30.0], [113.0, 31.0]])
    second = _line("A2", [[113.0, 30.5], [113.0, 31.5]])
    network = RouteNetwork([first, second])

    samples = build_samples(network, corridor_km=3)

    owned = samples.weight[~samples.shared].sum()
    # Where the corridor ends, up to corridor_km of the second route still counts as shared.
    assert owned == pytest.approx(first.length_km * 1.5, abs=3.5)


def test_covered_samples_equal_brute_force(routes):
    samples = build_samples(routes, corridor_km=3)
    rng = np.random.default_rng(5)
    picks = rng.integers(0, len(samples.lats), 400)
    lats = samples.lats[picks] + rng.normal(0, 0.3, 400)
    lons = samples.lons[picks] + rng.normal(0, 0.3, 400)

    for radius in (10, 50):
        fast = covered_samples(samples, lats, lons, radius)
        assert np.array_equal(fast, covered_samples_brute_force(samples, lats, lons, radius))


def test_gaps_are_maximal_uncovered_stretches():
    network = RouteNetwork([_line("A1", [[113.0, 30.0], [113.0, 32.0]])])
    samples = build_samples(network, corridor_km=3)
    route = network.routes[0]
    lat, lon = route.point_at(100.0)

    covered = covered_samples(samples, np.array([lat]), np.array([lon]), 20)
    gaps = find_gaps(samples, covered, network)

    assert [(gap["from_km"], gap["to_km"]) for gap in gaps] == [(120.0, round(route.length_km, 1)), (0.0, 80.0)]


def test_recommendations_are_greedy_with_cumulative_coverage():
    network = RouteNetwork([_line("A1", [[113.0, 30.0], [113.0, 33.0]])])
    samples = build_samples(network, corridor_km=3)
    covered = np.zeros(len(samples.lats), dtype=bool)

    sites = recommend_sites(samples, covered, 50, 5, network)

    gains = [site["gain_km"] for site in sites]
    assert gains == sorted(gains, reverse=True)
    assert gains[0] == pytest.approx(101, abs=1)
    assert sites[-1]["cumulative_covered_km"] == pytest.approx(sum(gains), abs=0.5)
    assert sites[-1]["cumulative_percent"] <= 100


def test_coverage_api_reports_routes_and_provinces(client, session, routes):
    make_shop(session, routes, lat=34.75, lon=113.66)
    make_shop(session, routes, lat=34.0, lon=113.8, certification_tier="none")
    oem = make_user(session, Role.OEM_ADMIN)

    body = client.get("/api/v1/coverage?radius_km=50", headers=auth_header(session, oem)).get_json()
    everyone = client.get("/api/v1/coverage?radius_km=50&certified=false", headers=auth_header(session, oem)).get_json()

    g4 = next(route for route in body["routes"] if route["code"] == "G4")
    henan = next(province for province in body["provinces"] if province["province"] == "Henan")
    assert 0 < body["covered_km"] < body["total_km"]
    assert g4["covered_km"] == pytest.approx(100, abs=3)
    assert henan["covered_km"] > 0
    assert everyone["covered_km"] > body["covered_km"]


def test_coverage_gaps_as_geojson(client, session, routes):
    oem = make_user(session, Role.OEM_ADMIN)

    body = client.get("/api/v1/coverage/gaps?format=geojson", headers=auth_header(session, oem)).get_json()

    assert body["type"] == "FeatureCollection"
    assert len(body["features"]) >= 36 - 1
    assert body["features"][0]["geometry"]["type"] == "LineString"


def test_coverage_recommendations_api(client, session, routes):
    oem = make_user(session, Role.OEM_ADMIN)

    body = client.get("/api/v1/coverage/recommendations?count=3", headers=auth_header(session, oem)).get_json()

    assert [site["rank"] for site in body["sites"]] == [1, 2, 3]
    assert body["sites"][0]["gain_km"] >= body["sites"][1]["gain_km"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("coverage?radius_km=0", "radius_km"),
        ("coverage?radius_km=abc", "radius_km"),
        ("coverage/recommendations?count=0", "count"),
        ("coverage/recommendations?count=1000", "count"),
        ("coverage/gaps?format=kml", "format"),
    ],
)
def test_coverage_rejects_bad_input(client, session, routes, query, field):
    oem = make_user(session, Role.OEM_ADMIN)

    response = client.get(f"/api/v1/{query}", headers=auth_header(session, oem))

    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field


@pytest.mark.parametrize("role", [Role.DRIVER, Role.SHOP_STAFF, Role.DEALER_STAFF])
def test_coverage_is_for_the_oem(client, session, routes, role):
    user = make_user(session, role)

    response = client.get("/api/v1/coverage", headers=auth_header(session, user))

    assert response.status_code == 403


def test_capacity_shows_trucks_per_bay(client, session, routes):
    make_shop(session, bays=4)
    for _ in range(6):
        make_vehicle(session, province="Henan")
    make_vehicle(session, province="Hubei")
    oem = make_user(session, Role.OEM_ADMIN)

    rows = client.get("/api/v1/coverage/capacity", headers=auth_header(session, oem)).get_json()["provinces"]

    by_name = {row["province"]: row for row in rows}
    assert by_name["Henan"]["trucks_per_bay"] == 1.5
    assert by_name["Hubei"]["trucks_per_bay"] is None
    assert rows[0]["province"] == "Hubei"


def test_coverage_command_prints_table_and_writes_geojson(app, session, routes, tmp_path):
    make_shop(session, routes)
    path = tmp_path / "coverage.geojson"

    result = app.test_cli_runner().invoke(
        args=["coverage", "--radius", "50", "--recommend", "3", "--geojson", str(path)]
    )

    assert result.exit_code == 0, result.output
    assert "G4" in result.output
    assert "Recommended new sites" in result.output
    features = json.loads(path.read_text())["features"]
    assert sum(feature["properties"].get("kind") == "recommended_site" for feature in features) == 3
