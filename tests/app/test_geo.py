"""Coordinates from numbers and strings, refused when out of range, and the distance helpers."""

from __future__ import annotations

import math

import pytest

from app.errors import InvalidInput
from app.geo import bounding_box, coarsen, great_circle_km, parse_coordinate, parse_position


@pytest.mark.parametrize(
    ("value", "field", "expected"),
    [
        (39.9042, "lat", 39.9042),
        (116, "lon", 116.0),
        ("39.9042", "lat", 39.9042),
        (" -33.5 ", "lat", -33.5),
        ("39°54'15\"N", "lat", 39.904167),
        ("39°54′15″N", "lat", 39.904167),
        ("116°24'27\"E", "lon", 116.4075),
        ("33 52 S", "lat", -33.866667),
        ("73°59'W", "lon", -73.983333),
        ("-116°24'27\"", "lon", -116.4075),
        ("90", "lat", 90.0),
        (-180, "lon", -180.0),
    ],
)
def test_parse_coordinate_accepts_decimal_and_dms(value, field, expected):
    assert parse_coordinate(value, field) == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize(
    ("value", "field"),
    [
        (90.0001, "lat"),
        (-91, "lat"),
        (180.5, "lon"),
        ("200", "lon"),
        (math.nan, "lat"),
        ("nan", "lat"),
        (math.inf, "lon"),
        ("-inf", "lon"),
        (True, "lat"),
        (False, "lon"),
        (None, "lat"),
        ("", "lat"),
        ("north", "lat"),
        ([39.9], "lat"),
        ("39°54'15\"E", "lat"),
        ("116°24'27\"N", "lon"),
        ("39°60'00\"N", "lat"),
        ("91°00'N", "lat"),
    ],
)
def test_parse_coordinate_rejects_bad_values_naming_the_field(value, field):
    with pytest.raises(InvalidInput) as caught:
        parse_coordinate(value, field)

    assert caught.value.field == field


def test_parse_position_names_prefixed_fields():
    with pytest.raises(InvalidInput) as caught:
        parse_position(30, 500, prefix="shop_")

    assert caught.value.field == "shop_lon"


def test_great_circle_km_beijing_to_shanghai():
    assert great_circle_km(39.9042, 116.4074, 31.2304, 121.4737) == pytest.approx(1067, abs=5)


def test_great_circle_km_is_zero_and_symmetric():
    assert great_circle_km(30, 110, 30, 110) == 0
    assert great_circle_km(30, 110, 35, 115) == pytest.approx(great_circle_km(35, 115, 30, 110))


@pytest.mark.parametrize(("lat", "lon"), [(34.75, 113.62), (0, 0), (60, 179.9), (-45, -170)])
def test_bounding_box_contains_every_point_within_the_radius(lat, lon):
    min_lat, min_lon, max_lat, max_lon = bounding_box(lat, lon, 50)

    for bearing in range(0, 360, 15):
        dlat = 50 / 6371.0088 * math.cos(math.radians(bearing))
        point_lat = lat + math.degrees(dlat) * 0.999
        point_lon = (
            lon + math.degrees(50 / 6371.0088 * math.sin(math.radians(bearing)) / math.cos(math.radians(lat))) * 0.999
        )
        assert min_lat <= point_lat <= max_lat
        assert min_lon <= point_lon <= max_lon


def test_bounding_box_near_a_pole_spans_all_longitudes():
    assert bounding_box(89.9, 10, 50)[1::2] == (-180.0, 180.0)


def test_coarsen_rounds_to_about_a_kilometre():
    assert coarsen(34.756789) == 34.76
