"""Coarse place names for scans: the nearest sizeable Chinese city and its province, from GeoNames."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

from app.crm.places import china_cities
from app.geo import great_circle_km

MIN_POPULATION = 100_000
# Beyond this distance from every listed city a scan is not attributed to a city (abroad, or remote).
MAX_CITY_KM = 150.0


@dataclass(frozen=True)
class Place:
    """A city and the province it lies in."""

    city: str
    province: str
    lat: float
    lon: float


@lru_cache(maxsize=1)
def _grid() -> dict[tuple[int, int], list[Place]]:
    grid: dict[tuple[int, int], list[Place]] = {}
    for city in china_cities():
        if city.province is None or city.population < MIN_POPULATION:
            continue
        place = Place(city.name, city.province, city.lat, city.lon)
        grid.setdefault((math.floor(place.lat), math.floor(place.lon)), []).append(place)
    return grid


# Scan positions are coarsened to 0.01 degree before they are located, so the same cells come back again and
# again: each worker remembers the answers (an entry is a few hundred bytes).
@lru_cache(maxsize=65_536)
def locate(lat: float, lon: float) -> Place | None:
    """Return the nearest listed city within MAX_CITY_KM of a point, if any."""
    grid = _grid()
    best, best_km = None, MAX_CITY_KM
    row, column = math.floor(lat), math.floor(lon)
    for d_row in (-1, 0, 1):
        for d_column in (-2, -1, 0, 1, 2):
            for place in grid.get((row + d_row, column + d_column), ()):
                km = great_circle_km(lat, lon, place.lat, place.lon)
                if km < best_km:
                    best, best_km = place, km
    return best


def warm_up() -> None:
    """Load the city table now rather than on the first scan."""
    _grid()
