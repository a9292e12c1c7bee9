"""Routes in memory: linear referencing in kilometres on the ground, snapping points, and corridor samples.

Each route's drawn segments are densified along great circles into pieces of at most STEP_KM, with the
cumulative distance (haversine, km) at every vertex. Locating a point projects it onto the nearest piece in a
local tangent plane around the point, which is exact to metres at this piece length: kilometre markers are
ground distances, never degrees.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely import STRtree

from app.geo import EARTH_RADIUS_KM
from network.spatial import haversine_km

STEP_KM = 1.0


@dataclass(frozen=True)
class Location:
    """Where a point lies relative to a route: kilometre marker, distance off the road, side, and bearing."""

    route: str
    km: float
    offset_km: float
    side: str
    bearing: float
    lat: float
    lon: float


def parts_of(geometry: dict) -> list[list[tuple[float, float]]]:
    """Return the [lon, lat] parts of a GeoJSON LineString or MultiLineString."""
    if geometry.get("type") == "LineString":
        return [[(float(x), float(y)) for x, y, *_ in geometry["coordinates"]]]
    if geometry.get("type") == "MultiLineString":
        return [[(float(x), float(y)) for x, y, *_ in part] for part in geometry["coordinates"]]
    raise ValueError("geometry must be a LineString or a MultiLineString")


def _unit_vectors(lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    phi, lmb = np.radians(lats), np.radians(lons)
    return np.stack([np.cos(phi) * np.cos(lmb), np.cos(phi) * np.sin(lmb), np.sin(phi)], axis=-1)


def densify(part: list[tuple[float, float]], step_km: float = STEP_KM) -> tuple[np.ndarray, np.ndarray]:
    """Return (lats, lons) of a part with extra vertices on each great-circle leg, at most `step_km` apart."""
    lons = np.array([point[0] for point in part])
    lats = np.array([point[1] for point in part])
    out_lats, out_lons = [lats[:1]], [lons[:1]]
    for index in range(len(part) - 1):
        length = float(haversine_km(lats[index], lons[index], lats[index + 1], lons[index + 1]))
        pieces = max(1, math.ceil(length / step_km))
        a, b = _unit_vectors(lats[index : index + 2], lons[index : index + 2])
        omega = length / EARTH_RADIUS_KM
        fractions = np.arange(1, pieces + 1) / pieces
        if omega < 1e-12:
            points = np.repeat(b[None, :], pieces, axis=0)
        else:
            points = (np.sin((1 - fractions) * omega)[:, None] * a + np.sin(fractions * omega)[:, None] * b) / math.sin(
                omega
            )
        out_lats.append(np.degrees(np.arcsin(np.clip(points[:, 2], -1, 1))))
        out_lons.append(np.degrees(np.arctan2(points[:, 1], points[:, 0])))
    return np.concatenate(out_lats), np.concatenate(out_lons)


def bearing_degrees(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Return the initial great-circle bearing from the first point to the second, 0-360 degrees from north."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dlmb = math.radians(lon2 - lon1)
    x = math.sin(dlmb) * math.cos(phi2)
    y = math.cos(phi1) * math.sin(phi2) - math.sin(phi1) * math.cos(phi2) * math.cos(dlmb)
    return (math.degrees(math.atan2(x, y)) + 360.0) % 360.0


@dataclass
class Route:
    """One route as densified vertices with cumulative kilometres; parts continue the measure where the last ended."""

    code: str
    name_zh: str
    name_en: str
    lats: np.ndarray
    lons: np.ndarray
    km: np.ndarray
    # Index of the first vertex of each part after the first: no piece joins two parts.
    breaks: frozenset[int] = field(default_factory=frozenset)

    @classmethod
    def from_geometry(cls, code: str, name_zh: str, name_en: str, geometry: dict) -> Route:
        """Build a route from its GeoJSON geometry."""
        lats, lons, kms, breaks = [], [], [], set()
        total = 0.0
        for part in parts_of(geometry):
            if len(part) < 2:
                continue
            part_lats, part_lons = densify(part)
            steps = haversine_km(part_lats[:-1], part_lons[:-1], part_lats[1:], part_lons[1:])
            if lats:
                breaks.add(sum(len(chunk) for chunk in lats))
            lats.append(part_lats)
            lons.append(part_lons)
            kms.append(total + np.concatenate([[0.0], np.cumsum(steps)]))
            total = float(kms[-1][-1])
        if not lats:
            raise ValueError("geometry has no line with two points")
        return cls(
            code, name_zh, name_en, np.concatenate(lats), np.concatenate(lons), np.concatenate(kms), frozenset(breaks)
        )

    @property
    def length_km(self) -> float:
        """Return the route's length on the ground."""
        return float(self.km[-1])

    def piece_indexes(self) -> np.ndarray:
        """Return the index of the first vertex of every piece (pieces never span a break between parts)."""
        starts = np.arange(len(self.km) - 1)
        return starts[~np.isin(starts + 1, list(self.breaks))] if self.breaks else starts

    def point_at(self, km: float) -> tuple[float, float]:
        """Return (lat, lon) at kilometre `km`, clamped to the route."""
        km = min(max(km, 0.0), self.length_km)
        index = int(np.searchsorted(self.km, km, side="right")) - 1
        index = min(max(index, 0), len(self.km) - 2)
        span = self.km[index + 1] - self.km[index]
        fraction = 0.0 if span <= 0 else (km - self.km[index]) / span
        lat = self.lats[index] + fraction * (self.lats[index + 1] - self.lats[index])
        lon = self.lons[index] + fraction * (self.lons[index + 1] - self.lons[index])
        return float(lat), float(lon)

    def bearing_at(self, km: float) -> float:
        """Return the bearing of travel in the direction of increasing kilometres at `km`."""
        index = int(np.searchsorted(self.km, min(max(km, 0.0), self.length_km), side="right")) - 1
        index = min(max(index, 0), len(self.km) - 2)
        while index + 1 in self.breaks and index > 0:
            index -= 1
        return bearing_degrees(self.lats[index], self.lons[index], self.lats[index + 1], self.lons[index + 1])

    def offset_point(self, km: float, offset_km: float) -> tuple[float, float]:
        """Return (lat, lon) `offset_km` to the right (negative: left) of the road at `km`, looking up the km."""
        lat, lon = self.point_at(km)
        angle = math.radians(self.bearing_at(km) + (90.0 if offset_km >= 0 else -90.0))
        distance = abs(offset_km) / EARTH_RADIUS_KM
        return (
            lat + math.degrees(distance * math.cos(angle)),
            lon + math.degrees(distance * math.sin(angle) / math.cos(math.radians(lat))),
        )

    def locate_on_pieces(self, lat: float, lon: float, pieces: np.ndarray) -> Location:
        """Project a point onto the nearest of the given pieces (indexes of their first vertex)."""
        cos_lat = math.cos(math.radians(lat))
        scale = math.radians(1.0) * EARTH_RADIUS_KM
        ax = (self.lons[pieces] - lon) * cos_lat * scale
        ay = (self.lats[pieces] - lat) * scale
        bx = (self.lons[pieces + 1] - lon) * cos_lat * scale
        by = (self.lats[pieces + 1] - lat) * scale
        dx, dy = bx - ax, by - ay
        length2 = dx * dx + dy * dy
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(length2 > 0, np.clip(-(ax * dx + ay * dy) / length2, 0.0, 1.0), 0.0)
        px, py = ax + t * dx, ay + t * dy
        distance = np.hypot(px, py)
        best = int(np.argmin(distance))
        index = int(pieces[best])
        km = float(self.km[index] + t[best] * (self.km[index + 1] - self.km[index]))
        # The point is at the origin: the sign of (B - A) x (P - A) says which side of the piece it is on.
        cross = dx[best] * (-ay[best]) - dy[best] * (-ax[best])
        side = "left" if cross > 0 else "right"
        on_lat, on_lon = self.point_at(km)
        return Location(
            route=self.code,
            km=km,
            offset_km=float(distance[best]),
            side=side,
            bearing=bearing_degrees(self.lats[index], self.lons[index], self.lats[index + 1], self.lons[index + 1]),
            lat=on_lat,
            lon=on_lon,
        )

    def locate(self, lat: float, lon: float) -> Location:
        """Project a point onto this route."""
        return self.locate_on_pieces(lat, lon, self.piece_indexes())

    def to_feature(self) -> dict:
        """Return the route as a GeoJSON feature (densified coordinates)."""
        parts, start = [], 0
        for stop in [*sorted(self.breaks), len(self.km)]:
            parts.append(
                [
                    [round(float(x), 5), round(float(y), 5)]
                    for x, y in zip(self.lons[start:stop], self.lats[start:stop], strict=True)
                ]
            )
            start = stop
        return {
            "type": "Feature",
            "properties": {"code": self.code},
            "geometry": {"type": "MultiLineString", "coordinates": parts},
        }


def route_sort_key(code: str) -> tuple:
    """Sort route codes naturally: G1, G2, ..., G10, G11."""
    return tuple(int(token) if token.isdigit() else token for token in re.split(r"(\d+)", code))


class RouteNetwork:
    """All routes with an STRtree over their pieces, to snap points to the nearest route."""

    def __init__(self, routes: list[Route]) -> None:
        self.routes = sorted(routes, key=lambda route: route_sort_key(route.code))
        self.by_code = {route.code: route for route in self.routes}
        owners, starts, lines = [], [], []
        for number, route in enumerate(self.routes):
            pieces = route.piece_indexes()
            owners.append(np.full(len(pieces), number))
            starts.append(pieces)
            coords = np.stack(
                [
                    np.stack([route.lons[pieces], route.lats[pieces]], axis=-1),
                    np.stack([route.lons[pieces + 1], route.lats[pieces + 1]], axis=-1),
                ],
                axis=1,
            )
            lines.append(coords)
        self.piece_route = np.concatenate(owners) if owners else np.zeros(0, dtype=np.int64)
        self.piece_start = np.concatenate(starts) if starts else np.zeros(0, dtype=np.int64)
        self.tree = STRtree(shapely.linestrings(np.concatenate(lines))) if lines else None

    @classmethod
    def from_rows(cls, rows: list[tuple[str, str, str, str]]) -> RouteNetwork:
        """Build from (code, name_zh, name_en, GeoJSON geometry text) rows."""
        return cls([Route.from_geometry(code, zh, en, json.loads(text)) for code, zh, en, text in rows])

    def candidates(self, lat: float, lon: float, within_km: float) -> dict[int, np.ndarray]:
        """Return, per route number, the pieces whose bounding box comes within `within_km` of the point."""
        if self.tree is None:
            return {}
        from network.spatial import bounding_boxes

        hits = self.tree.query(bounding_boxes(np.array([lat]), np.array([lon]), within_km)[0])
        found: dict[int, list[int]] = {}
        for hit in hits:
            found.setdefault(int(self.piece_route[hit]), []).append(int(self.piece_start[hit]))
        return {number: np.array(pieces) for number, pieces in found.items()}

    def snap(self, lat: float, lon: float, within_km: float, only: str | None = None) -> list[Location]:
        """Return the point's location on each route within `within_km`, nearest first."""
        found = []
        for number, pieces in self.candidates(lat, lon, within_km).items():
            route = self.routes[number]
            if only is not None and route.code != only:
                continue
            location = route.locate_on_pieces(lat, lon, pieces)
            if location.offset_km <= within_km:
                found.append(location)
        return sorted(found, key=lambda location: (location.offset_km, route_sort_key(location.route)))
