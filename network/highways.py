"""Highways: the shipped data set, importing a better one, and the routes as GeoJSON."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from network.models import Highway, Shop
from network.routes import Route, RouteNetwork, parts_of, route_sort_key
from network.versions import HIGHWAYS, bump_version

DATA_FILE = Path(__file__).resolve().parent / "data" / "cn_expressways.geojson"
SOURCE = "Milepost reference set: 71118 plan control cities, GeoNames CC BY 4.0"


def parse_feature_collection(text: str | bytes) -> list[dict]:
    """Validate a GeoJSON FeatureCollection of routes; return one dict per route or raise naming the feature."""
    try:
        document = json.loads(text)
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidInput("not valid JSON: %(error)s", field="file", error=str(error)) from None
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise InvalidInput("expected a GeoJSON FeatureCollection", field="file")
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise InvalidInput("the FeatureCollection has no features", field="features")
    routes, seen = [], set()
    for number, feature in enumerate(features):
        where = f"features[{number}]"
        properties = (feature or {}).get("properties") or {}
        code = str(properties.get("code") or "").strip().upper()
        if not code or len(code) > 12:
            raise InvalidInput("each route needs a code of 1-12 characters", field=f"{where}.properties.code")
        if code in seen:
            raise InvalidInput("route %(route)s appears twice", field=f"{where}.properties.code", route=code)
        seen.add(code)
        geometry = (feature or {}).get("geometry") or {}
        try:
            parts = parts_of(geometry)
            route = Route.from_geometry(code, "", "", geometry)
        except (ValueError, TypeError, KeyError) as error:
            raise InvalidInput(
                "route %(route)s: %(error)s", field=f"{where}.geometry", route=code, error=str(error)
            ) from None
        for part in parts:
            for lon, lat in part:
                if not (-180 <= lon <= 180 and -90 <= lat <= 90):
                    raise InvalidInput(
                        "route %(route)s has a point outside WGS84 range", field=f"{where}.geometry", route=code
                    )
        published = properties.get("published_length_km")
        routes.append(
            {
                "code": code,
                "name_zh": str(properties.get("name_zh") or code)[:100],
                "name_en": str(properties.get("name_en") or code)[:100],
                "geometry": {"type": geometry["type"], "coordinates": geometry["coordinates"]},
                "length_km": round(route.length_km, 3),
                "published_length_km": float(published) if isinstance(published, int | float) else None,
            }
        )
    return routes


def import_highways(session: Session, text: str | bytes, source: str = "") -> list[Highway]:
    """Replace the route set with the routes of a GeoJSON file (all or nothing); shops need re-snapping after."""
    routes = parse_feature_collection(text)
    existing = {highway.code: highway for highway in session.scalars(select(Highway))}
    kept = []
    for route in routes:
        highway = existing.pop(route["code"], None) or Highway(code=route["code"])
        highway.name_zh = route["name_zh"]
        highway.name_en = route["name_en"]
        highway.geometry = json.dumps(route["geometry"], separators=(",", ":"), ensure_ascii=False)
        highway.length_km = route["length_km"]
        highway.published_length_km = route["published_length_km"]
        highway.source = source[:200]
        session.add(highway)
        kept.append(highway)
    if existing:
        stale = [highway.id for highway in existing.values()]
        for shop in session.scalars(select(Shop).where(Shop.highway_id.in_(stale))):
            shop.highway_id = shop.km_marker = shop.side = shop.offset_km = None
        session.execute(delete(Highway).where(Highway.id.in_(stale)))
    session.flush()
    bump_version(session, HIGHWAYS)
    return kept


def import_shipped_highways(session: Session) -> list[Highway]:
    """Load the data set shipped in the package (see network/data/README.md for its source and limits)."""
    return import_highways(session, DATA_FILE.read_bytes(), source=SOURCE)


@dataclass(frozen=True)
class RouteCity:
    """A control city of a route in the shipped data set, in the plan's order along the route."""

    route: str
    index: int
    name_zh: str
    name_en: str
    lat: float
    lon: float

    @property
    def key(self) -> str:
        """Return how a form names the city: route code and position along the route ("G4:5")."""
        return f"{self.route}:{self.index}"


@cache
def list_route_cities() -> dict[str, tuple[RouteCity, ...]]:
    """Return each shipped route's control cities in order (shape waypoints left out), by route code."""
    features = json.loads(DATA_FILE.read_bytes())["features"]
    cities = {}
    for feature in features:
        properties = feature["properties"]
        points = [point for point in properties.get("control_points", []) if not point.get("optional")]
        cities[properties["code"]] = tuple(
            RouteCity(properties["code"], index, point["name_zh"], point["name_en"], point["lat"], point["lon"])
            for index, point in enumerate(points)
        )
    return cities


def find_route_city(key: str) -> RouteCity:
    """Return the city a form names as "route:index", or raise naming the `towards` field."""
    route, _, index = (key or "").partition(":")
    cities = list_route_cities().get(route.strip().upper(), ())
    if not index.isdigit() or int(index) >= len(cities):
        raise InvalidInput("choose the city you are driving towards", field="towards")
    return cities[int(index)]


def list_highways(session: Session) -> list[Highway]:
    """Return all routes in natural code order."""
    return sorted(session.scalars(select(Highway)), key=lambda highway: route_sort_key(highway.code))


def load_route_network(session: Session) -> RouteNetwork:
    """Build the in-memory routes from the database."""
    rows = session.execute(select(Highway.code, Highway.name_zh, Highway.name_en, Highway.geometry)).all()
    return RouteNetwork.from_rows([tuple(row) for row in rows])


def highways_to_geojson(highways: list[Highway]) -> dict:
    """Return the routes as a GeoJSON FeatureCollection."""
    return {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {
                    "code": highway.code,
                    "name_zh": highway.name_zh,
                    "name_en": highway.name_en,
                    "length_km": round(highway.length_km, 1),
                    "published_length_km": highway.published_length_km,
                },
                "geometry": json.loads(highway.geometry),
            }
            for highway in highways
        ],
    }
