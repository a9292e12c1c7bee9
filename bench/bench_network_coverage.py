"""Coverage of every route at 1 km sampling: STRtree witness + exact check against a brute-force scan.

10,000 shops, R = 50 km. The covered flags must be identical; the target is at least 20x faster.
Run: .venv/bin/python -m bench.bench_network_coverage
"""

from __future__ import annotations

import argparse

import numpy as np

from app.config import DEFAULTS
from bench.network_common import save, shipped_routes, shop_positions, timed
from network.coverage import build_samples, covered_samples, covered_samples_brute_force
from network.settings import network_settings


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--shops", type=int, default=10_000)
    parser.add_argument("--radius", type=float, default=50.0)
    arguments = parser.parse_args()
    rng = np.random.default_rng(2027)
    routes = shipped_routes()
    samples, samples_seconds = timed(lambda: build_samples(routes, network_settings(DEFAULTS).corridor_km))
    # Shops along about half of the routes and a few scattered, so that both answers have gaps to agree on.
    lats, lons = shop_positions(routes, arguments.shops, rng, route_share=0.5, near_share=0.95)

    fast, fast_seconds = timed(lambda: covered_samples(samples, lats, lons, arguments.radius))
    slow, slow_seconds = timed(lambda: covered_samples_brute_force(samples, lats, lons, arguments.radius))
    owned = ~samples.shared
    ratio = slow_seconds / fast_seconds
    save(
        "network_coverage",
        {
            "shops": int(len(lats)),
            "radius km": arguments.radius,
            "stretches (1 km)": int(len(samples.lats)),
            "stretches shared with an earlier route": int(samples.shared.sum()),
            "km counted once": round(float(samples.weight[owned].sum()), 1),
            "covered percent": round(100 * float(samples.weight[owned & fast].sum() / samples.weight[owned].sum()), 2),
            "sample build s": round(samples_seconds, 2),
            "index s": round(fast_seconds, 3),
            "brute force s": round(slow_seconds, 2),
            "speed ratio (target >= 20)": round(ratio, 1),
            "stretches that differ": int((fast != slow).sum()),
        },
    )
    if (fast != slow).any() or ratio < 20:
        raise SystemExit("benchmark target missed")


if __name__ == "__main__":
    main()
