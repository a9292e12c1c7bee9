"""Typed places: a city name (English or Chinese, from GeoNames) or "lat, lon" to a position."""

from __future__ import annotations

import re

from app.crm.places import find_city
from app.errors import InvalidInput
from app.geo import LatLon, parse_position

_PAIR = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*[,，\s]\s*(-?\d+(?:\.\d+)?)\s*$")


def find_place(text: str, field: str = "place") -> tuple[LatLon, str]:
    """Return the position and name of a typed place: "34.75, 113.65" or a Chinese city name (郑州, Zhengzhou)."""
    pair = _PAIR.match(text or "")
    if pair:
        return parse_position(pair.group(1), pair.group(2)), text.strip()
    found = find_city(text)
    if found is None:
        raise InvalidInput("no city called %(place)s; type a city name or 'lat, lon'", field=field, place=repr(text))
    return LatLon(found.lat, found.lon), found.name
