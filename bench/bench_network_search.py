"""Nearest-k search: the STRtree index against a vectorized brute-force great-circle scan.

100,000 shops, 10,000 random query points in China, k = 10. Results must be identical; the target is the
index answering at least 50x faster per query. Run: .venv/bin/python -m bench.bench_network_search
"""

from __future__ import annotations

import argparse

import numpy as np

from app.config import DEFAULTS
from bench.network_common import LAT_RANGE, LON_RANGE, save, shipped_routes, shop_positions, timed
from network.search import Filters, ShopIndex, nearest, nearest_brute_force
from network.settings import network_settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shops", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=10_000)
    parser.add_argument("--k", type=int, default=10)
    arguments = parser.parse_args()
    rng = np.random.default_rng(2026)
    settings = network_settings(DEFAULTS)
    lats, lons = shop_positions(shipped_routes(), arguments.shops, rng)
    records = [
        (number, f"S{number}", float(lat), float(lon), ["repair"], "certified", 4.0, True, {})
        for number, (lat, lon) in enumerate(zip(lats, lons, strict=True), start=1)
    ]
    index, build_seconds = timed(lambda: ShopIndex.from_records(records))
    query_lats = rng.uniform(*LAT_RANGE, arguments.queries)
    query_lons = rng.uniform(*LON_RANGE, arguments.queries)
    queries = list(zip(query_lats.tolist(), query_lons.tolist(), strict=True))
    filters = Filters()

    fast, fast_seconds = timed(
        lambda: [nearest(index, lat, lon, arguments.k, filters, settings) for lat, lon in queries]
    )
    slow, slow_seconds = timed(
        lambda: [nearest_brute_force(index, lat, lon, arguments.k, filters, settings) for lat, lon in queries]
    )
    mismatches = sum(a != b for a, b in zip(fast, slow, strict=True))
    ratio = slow_seconds / fast_seconds
    save(
        "network_search",
        {
            "shops": arguments.shops,
            "queries": arguments.queries,
            "k": arguments.k,
            "index build s": round(build_seconds, 2),
            "index per query ms": round(1000 * fast_seconds / len(queries), 4),
            "brute force per query ms": round(1000 * slow_seconds / len(queries), 4),
            "speed ratio (target >= 50)": round(ratio, 1),
            "queries with different results": mismatches,
        },
    )
    if mismatches or ratio < 50:
        raise SystemExit("benchmark target missed")


if __name__ == "__main__":
    main()
