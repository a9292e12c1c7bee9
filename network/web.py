"""What the network's views share: typed settings and the per-worker caches (routes, shop index, samples)."""

from __future__ import annotations

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from network.coverage import Samples, build_samples
from network.highways import load_route_network
from network.models import Shop
from network.routes import RouteNetwork
from network.search import ShopIndex, load_shop_index
from network.settings import NetworkSettings, network_settings
from network.versions import HIGHWAYS, SHOPS, VersionedCache

CACHES = "network.caches"


def current_settings() -> NetworkSettings:
    """Return the network settings of the running app."""
    return network_settings(current_app.config)


def _caches() -> dict[str, VersionedCache]:
    caches = current_app.extensions.get(CACHES)
    if caches is None:
        corridor_km = current_settings().corridor_km
        caches = current_app.extensions.setdefault(
            CACHES,
            {
                "routes": VersionedCache(HIGHWAYS, load_route_network),
                "shops": VersionedCache(SHOPS, load_shop_index),
                "samples": VersionedCache(
                    HIGHWAYS, lambda session: build_samples(load_route_network(session), corridor_km)
                ),
            },
        )
    return caches


def route_network(session: Session) -> RouteNetwork:
    """Return this worker's routes, rebuilt when the highways changed."""
    return _caches()["routes"].get(session)


def shop_index(session: Session) -> ShopIndex:
    """Return this worker's shop index, rebuilt when any shop changed (in any worker)."""
    return _caches()["shops"].get(session)


def coverage_samples(session: Session) -> Samples:
    """Return this worker's route stretches for coverage, rebuilt when the highways changed."""
    return _caches()["samples"].get(session)


def shops_by_id(session: Session, ids: list[int]) -> dict[int, Shop]:
    """Load the shops with these ids in one query."""
    if not ids:
        return {}
    return {shop.id: shop for shop in session.scalars(select(Shop).where(Shop.id.in_(ids)))}
