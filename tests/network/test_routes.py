"""Linear referencing in kilometres on the ground, snapping and sides."""

from __future__ import annotations

import pytest

from app.geo import great_circle_km
from network.routes import Route

STRAIGHT = {"type": "LineString", "coordinates": [[113.0, 30.0], [113.0, 31.0]]}


def test_route_length_is_ground_distance_not_degrees():
    route = Route.from_geometry("T1", "", "", STRAIGHT)

    assert route.length_km == pytest.approx(great_circle_km(30.0, 113.0, 31.0, 113.0), abs=0.01)


def test_route_locate_gives_km_marker_offset_and_side():
    route = Route.from_geometry("T1", "", "", STRAIGHT)

    east = route.locate(30.5, 113.02)
    west = route.locate(30.5, 112.98)

    assert east.km == pytest.approx(great_circle_km(30.0, 113.0, 30.5, 113.0), abs=0.05)
    assert east.offset_km == pytest.approx(great_circle_km(30.5, 113.0, 30.5, 113.02), abs=0.05)
    assert (east.side, west.side) == ("right", "left")


def test_route_point_at_and_locate_agree():
    route = Route.from_geometry("T1", "", "", STRAIGHT)

    lat, lon = route.point_at(42.0)

    assert route.locate(lat, lon).km == pytest.approx(42.0, abs=0.01)


def test_route_parts_continue_the_measure():
    geometry = {
        "type": "MultiLineString",
        "coordinates": [[[113.0, 30.0], [113.0, 30.5]], [[114.0, 30.0], [114.0, 30.5]]],
    }
    route = Route.from_geometry("T2", "", "", geometry)

    second = route.locate(30.25, 114.0)

    assert second.km == pytest.approx(route.length_km * 0.75, abs=0.05)


def test_network_snaps_zhengzhou_to_g4_and_g30(routes):
    found = routes.snap(34.75, 113.65, 5.0)

    assert [location.route for location in found][:2] == ["G4", "G30"]
    assert 550 < found[0].km < 750
