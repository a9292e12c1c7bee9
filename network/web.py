"""The network's views kit: the running app's typed settings and this worker's caches, and the two shop searches
the API, the pages and other domains' pages share (searched by network.search, rendered by network.rendering).

The caches themselves are logic (network.caches, which jobs use too); this module only binds them to Flask's
current app.
"""

from __future__ import annotations

import math
from datetime import datetime

from flask import current_app
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.geo import LatLon, parse_position
from network import caches, search
from network.coverage import Samples
from network.highways import RouteCity
from network.rendering import ahead_to_dict, nearest_to_dicts, rendered_shops
from network.routes import RouteNetwork
from network.search import Filters, ShopIndex
from network.settings import NetworkSettings, network_settings


def current_settings() -> NetworkSettings:
    """Return the network settings of the running app."""
    return network_settings(current_app.config)


def route_network(session: Session) -> RouteNetwork:
    """Return this worker's routes, rebuilt when the highways changed."""
    return caches.route_network(session, current_app.extensions, current_settings())


def shop_index(session: Session) -> ShopIndex:
    """Return this worker's shop index, rebuilt when any shop changed (in any worker)."""
    return caches.shop_index(session, current_app.extensions, current_settings())


def coverage_samples(session: Session) -> Samples:
    """Return this worker's route stretches for coverage, rebuilt when the highways changed."""
    return caches.coverage_samples(session, current_app.extensions, current_settings())


def nearest_shops(
    session: Session, position: LatLon, k: int, filters: Filters, max_km: float | None = None
) -> list[dict]:
    """Return the k nearest shops passing the filters, rendered with `distance_km`."""
    settings = current_settings()
    search.check_search(k, max_km, settings)
    index = shop_index(session)
    found = search.nearest(index, position.lat, position.lon, k, filters, settings, max_km)
    ids = [int(index.ids[item]) for item, _ in found]
    return nearest_to_dicts(rendered_shops(session, index, ids), ids, found)


def shops_ahead(
    session: Session,
    position: LatLon,
    heading: float | None,
    highway: str | None,
    direction: str | None,
    within_km: float,
    filters: Filters,
    towards: RouteCity | None = None,
) -> dict:
    """Snap the truck to its route and return where it is with the shops ahead, rendered; `towards` (a city on
    the route) decides the direction instead of a heading or a direction of kilometres."""
    settings = current_settings()
    routes = route_network(session)
    highway = highway.strip().upper() if highway else None
    if towards is not None:
        location, direction = search.locate_truck_towards(routes, position.lat, position.lon, towards, settings)
    else:
        location, direction = search.locate_truck(
            routes, position.lat, position.lon, heading, highway, direction, settings
        )
    index = shop_index(session)
    found = search.shops_ahead(index, routes, location, direction, within_km, filters, settings)
    ids = [int(index.ids[item]) for item, _, _ in found]
    return ahead_to_dict(location, direction, within_km, rendered_shops(session, index, ids), ids, found)


def shops_for_service(
    session: Session,
    service: str,
    lat: str | None,
    lon: str | None,
    heading: str | None,
    *,
    look_ahead_km: float,
    shown: int,
    open_at: datetime | None = None,
) -> dict | None:
    """Return the first `shown` shops ahead on the driver's road that offer `service` (and are open at `open_at`),
    or the nearest ones when the truck is off the expressways or gave no heading; None without a position.

    The search of GET /api/v1/shops/ahead with a service filter, as the pages that end at a shop use it (a fault
    lookup, a maintenance booking): `mode` says which of the two answered.
    """
    if not lat or not lon:
        return None
    position = parse_position(lat, lon)
    filters = Filters(service=service, open_at=open_at)
    heading_value = None
    if heading:
        try:
            heading_value = float(heading) % 360
        except ValueError:
            heading_value = math.nan
        if not math.isfinite(heading_value):
            raise InvalidInput("heading is degrees from north", field="heading")
    if heading_value is not None:
        try:
            result = shops_ahead(session, position, heading_value, None, None, look_ahead_km, filters)
            return {"mode": "ahead", **result, "items": result["items"][:shown]}
        except InvalidInput as problem:
            if problem.field != "lat":
                raise
    return {"mode": "nearest", "items": nearest_shops(session, position, shown, filters)}
