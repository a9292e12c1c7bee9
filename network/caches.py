"""This process's network caches (routes, shop index, coverage samples), kept in the app's extensions.

Views pass `current_app.extensions`, jobs pass their `JobContext.extras` (the worker's app extensions), so the
caches live once per worker process whichever side asks. Each is rebuilt when its database stamp moves
(network.versions), which is how a change made in one worker reaches every other one.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from sqlalchemy.orm import Session

from network.coverage import Samples, build_samples
from network.highways import load_route_network
from network.routes import RouteNetwork
from network.search import ShopIndex, load_shop_index
from network.settings import NetworkSettings
from network.versions import HIGHWAYS, SHOPS, VersionedCache

CACHES = "network.caches"


def _caches(extensions: MutableMapping[str, Any], settings: NetworkSettings) -> dict[str, VersionedCache]:
    caches = extensions.get(CACHES)
    if caches is None:
        corridor_km = settings.corridor_km
        caches = extensions.setdefault(
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


def route_network(session: Session, extensions: MutableMapping[str, Any], settings: NetworkSettings) -> RouteNetwork:
    """Return this process's routes, rebuilt when the highways changed."""
    return _caches(extensions, settings)["routes"].get(session)


def shop_index(session: Session, extensions: MutableMapping[str, Any], settings: NetworkSettings) -> ShopIndex:
    """Return this process's shop index, rebuilt when any shop changed (in any process)."""
    return _caches(extensions, settings)["shops"].get(session)


def coverage_samples(session: Session, extensions: MutableMapping[str, Any], settings: NetworkSettings) -> Samples:
    """Return this process's route stretches for coverage, rebuilt when the highways changed."""
    return _caches(extensions, settings)["samples"].get(session)
