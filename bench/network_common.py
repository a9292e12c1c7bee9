"""Shared pieces of the network benchmarks: the shipped routes and realistic random shop positions."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from network.highways import DATA_FILE, parse_feature_collection
from network.routes import Route, RouteNetwork

RESULTS = Path(__file__).resolve().parent / "results"
# China's mainland, roughly: queries and scattered shops are drawn in this box.
LAT_RANGE, LON_RANGE = (21.0, 47.0), (98.0, 125.0)


def shipped_routes() -> RouteNetwork:
    """Return the routes shipped with Milepost, in memory."""
    routes = parse_feature_collection(DATA_FILE.read_bytes())
    return RouteNetwork([Route.from_geometry(item["code"], "", "", item["geometry"]) for item in routes])


def shop_positions(
    routes: RouteNetwork, count: int, rng: np.random.Generator, route_share: float = 1.0, near_share: float = 0.7
) -> tuple[np.ndarray, np.ndarray]:
    """Return shop positions: `near_share` within a few km of a route (of a random `route_share` of the
    routes), the rest scattered over the country."""
    chosen = [route for route in routes.routes if rng.random() < route_share] or routes.routes
    lats = np.concatenate([route.lats for route in chosen])
    lons = np.concatenate([route.lons for route in chosen])
    near = int(count * near_share)
    picks = rng.integers(0, len(lats), near)
    near_lats = lats[picks] + rng.normal(0, 0.03, near)
    near_lons = lons[picks] + rng.normal(0, 0.03, near)
    far_lats = rng.uniform(*LAT_RANGE, count - near)
    far_lons = rng.uniform(*LON_RANGE, count - near)
    return np.concatenate([near_lats, far_lats]), np.concatenate([near_lons, far_lons])


def timed(work):
    """Run `work()`; return (its result, seconds)."""
    start = time.perf_counter()
    result = work()
    return result, time.perf_counter() - start


def save(name: str, figures: dict) -> None:
    """Print the figures and keep them in bench/results/NAME.json."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(figures, indent=2))
    for key, value in figures.items():
        print(f"{key:>36}: {value}")
