"""What the network's views share: typed settings and the per-worker caches (routes, shop index, samples)."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.geo import LatLon
from network import caches, search
from network.coverage import Samples
from network.models import Shop
from network.routes import RouteNetwork
from network.search import Filters, ShopIndex
from network.settings import NetworkSettings, network_settings
from network.shops import shop_to_dict


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


def shops_by_id(session: Session, ids: list[int]) -> dict[int, Shop]:
    """Load the shops with these ids in one query."""
    if not ids:
        return {}
    return {shop.id: shop for shop in session.scalars(select(Shop).where(Shop.id.in_(ids)))}


def nearest_shops(
    session: Session, position: LatLon, k: int, filters: Filters, max_km: float | None = None
) -> list[dict]:
    """Return the k nearest shops passing the filters, rendered with `distance_km`."""
    settings = current_settings()
    search.check_search(k, max_km, settings)
    index = shop_index(session)
    found = search.nearest(index, position.lat, position.lon, k, filters, settings, max_km)
    shops = shops_by_id(session, [int(index.ids[item]) for item, _ in found])
    return [{**shop_to_dict(shops[int(index.ids[item])]), "distance_km": round(km, 3)} for item, km in found]


def shops_ahead(
    session: Session,
    position: LatLon,
    heading: float | None,
    highway: str | None,
    direction: str | None,
    within_km: float,
    filters: Filters,
) -> dict:
    """Snap the truck to its route and return where it is with the shops ahead, rendered."""
    settings = current_settings()
    routes = route_network(session)
    highway = highway.strip().upper() if highway else None
    location, direction = search.locate_truck(routes, position.lat, position.lon, heading, highway, direction, settings)
    index = shop_index(session)
    found = search.shops_ahead(index, routes, location, direction, within_km, filters, settings)
    shops = shops_by_id(session, [int(index.ids[item]) for item, _, _ in found])
    sign = 1 if direction == "increasing" else -1
    items = [
        {
            **shop_to_dict(shops[int(index.ids[item])]),
            "km_ahead": round(ahead, 2),
            "route_km": round(location.km + ahead * sign, 2),
            "detour_km": round(2 * offset, 2),
        }
        for item, ahead, offset in found
    ]
    return {
        "highway": location.route,
        "km": round(location.km, 2),
        "direction": direction,
        "offset_km": round(location.offset_km, 3),
        "within_km": within_km,
        "items": items,
    }
