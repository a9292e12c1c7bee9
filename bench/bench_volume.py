"""Benchmark at volume (issue 11 item 5): the public paths against /healthz of the same server, as ratios in one run.

    python -m bench.generate postgresql+psycopg://.../milepost_bench --scale 0.1      # once
    python -m bench.bench_volume postgresql+psycopg://.../milepost_bench [seconds] [connections]

One `milepost serve` (2 workers, no job worker) on 127.0.0.1 serves the generated database; the load comes
from a separate process, new TCP connection per request, `connections` at once (8: saturation for two
sync workers), each endpoint in alternating rounds with /healthz so that other jobs on a shared machine
weigh on all alike. Measured: a genuine scan as JSON and as the HTML page a phone camera opens (parts in
stock at their dealer, scanned near it), a scan of a serial never issued (correctly signed, so it reaches
the unknown-serial lookup), a scan of a real part with a wrong tag, a plaque page, the nearest-shops API
and the shops-ahead API. The 1-minute load average is sampled throughout and reported beside the figures.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from sqlalchemy import func, select, text

from app.db import make_engine
from app.signing import CROCKFORD_ALPHABET, KeyRing
from bench import http_load
from bench.generate import KEYS
from bench.network_common import RESULTS, shipped_routes, shop_positions
from traceability.codes import tag_message
from traceability.models import Part

SAMPLE = 4_000
# Ratio to /healthz each endpoint must reach (issue 11 item 5), and the p99 every one must stay under.
TARGETS = {
    "scan JSON": 0.6,
    "scan HTML": 0.5,
    "unknown serial": 0.6,
    "bad tag": 0.6,
    "plaque page": 0.5,
    "nearest shops": 0.5,
    "shops ahead": 0.5,
}
P99_MS = 50.0
ROOT = Path(__file__).resolve().parent.parent


def _position(lat: float, lon: float, rng: random.Random) -> str:
    return f"lat={lat + rng.uniform(-0.05, 0.05):.5f}&lon={lon + rng.uniform(-0.05, 0.05):.5f}"


def build_requests(url: str, seed: int = 11) -> tuple[dict[str, list], int]:
    """Return the requests of each endpoint drawn from the generated data, and the number of parts."""
    rng = random.Random(seed)
    ring = KeyRing.from_spec(KEYS)
    engine = make_engine(url)
    with engine.connect() as connection:
        parts = connection.scalar(select(func.count()).select_from(Part))
        # A block sample large enough to hold three samples of stocked parts (a third of parts are in stock).
        percent = min(100.0, 100.0 * SAMPLE * 3 * 6 / max(parts, 1))
        stocked = connection.execute(
            text(
                f"SELECT p.gtin, p.serial, p.tag, o.lat, o.lon FROM parts p TABLESAMPLE SYSTEM ({percent:.3f}) "
                "JOIN organizations o ON o.id = p.holder_id "
                f"WHERE p.state = 'in_stock' AND p.recall_id IS NULL AND p.alert_signals = 0 LIMIT {SAMPLE * 3}"
            )
        ).all()
        gtins = list(connection.scalars(text("SELECT gtin FROM part_types")))
        plaques = connection.execute(
            text("SELECT s.code, p.tag, s.lat, s.lon FROM plaques p JOIN shops s ON s.id = p.shop_id")
        ).all()
    engine.dispose()
    rng.shuffle(stocked)
    json_parts, html_parts, bad_parts = stocked[:SAMPLE], stocked[SAMPLE : 2 * SAMPLE], stocked[2 * SAMPLE :]

    def scan(gtin: str, serial: str, tag: str, lat: float, lon: float) -> str:
        return f"/01/{gtin}/21/{serial}?c={tag}&{_position(lat, lon, rng)}"

    unknown = []
    for _ in range(SAMPLE):
        gtin = rng.choice(gtins)
        serial = "".join(rng.choice(CROCKFORD_ALPHABET) for _ in range(12))
        unknown.append(scan(gtin, serial, ring.sign(tag_message(gtin, serial)), 34.75, 113.62))
    routes = shipped_routes()
    np_rng = np.random.default_rng(seed)
    lats, lons = shop_positions(routes, SAMPLE, np_rng, near_share=0.9)
    route_points = [(route.lats, route.lons) for route in routes.routes]
    ahead = []
    for _ in range(SAMPLE):
        route_lats, route_lons = route_points[rng.randrange(len(route_points))]
        index = rng.randrange(len(route_lats) - 1)
        step = 1 if rng.random() < 0.5 else -1
        following = min(max(index + step, 0), len(route_lats) - 1)
        heading = (
            np.degrees(
                np.arctan2(
                    (route_lons[following] - route_lons[index]) * np.cos(np.radians(route_lats[index])),
                    route_lats[following] - route_lats[index],
                )
            )
            % 360
        )
        ahead.append(
            f"/api/v1/shops/ahead?lat={route_lats[index]:.5f}&lon={route_lons[index]:.5f}&heading={heading:.0f}"
        )
    endpoints = {
        "healthz": ["/healthz"],
        "scan JSON": [scan(*row) for row in json_parts],
        "scan HTML": [(scan(*row), http_load.HTML) for row in html_parts],
        "unknown serial": unknown,
        "bad tag": [scan(g, s, t[:-1] + ("0" if t[-1] != "0" else "1"), la, lo) for g, s, t, la, lo in bad_parts],
        "plaque page": [
            (f"/plaque/{code}?c={tag}&{_position(lat, lon, rng)}", http_load.HTML) for code, tag, lat, lon in plaques
        ],
        "nearest shops": [
            f"/api/v1/shops?lat={lat:.5f}&lon={lon:.5f}&k=10" for lat, lon in zip(lats, lons, strict=True)
        ],
        "shops ahead": ahead,
    }
    return endpoints, parts


def start_server(url: str, port: int, workers: int = 2, host: str = "127.0.0.1", extra: dict | None = None):
    """Start `milepost serve` (no job worker) on the generated data; return the process."""
    environment = dict(
        os.environ,
        MILEPOST_DATABASE_URL=url,
        MILEPOST_CODE_KEYS=KEYS,
        MILEPOST_SECRET_KEY="bench-only",
        MILEPOST_PUBLIC_BASE_URL=f"http://{host}:{port}",
        MILEPOST_INSTANCE_PATH=tempfile.mkdtemp(prefix="mp-volume-"),
        **(extra or {}),
    )
    command = [str(Path(sys.executable).parent / "milepost"), "serve", "--workers", str(workers), "--no-worker"]
    return subprocess.Popen(
        [*command, "--bind", f"{host}:{port}"],
        env=environment,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def main(url: str, seconds: float, connections: int) -> None:
    endpoints, parts = build_requests(url)
    port = http_load.free_port()
    server = start_server(url, port)
    try:
        http_load.wait_for("127.0.0.1", port, 120)
        for requests in endpoints.values():  # warm both workers on every path (indexes, caches, templates)
            http_load.measure("127.0.0.1", port, requests[-50:], 1, connections)
        started = time.time()
        with http_load.LoadAverage() as load_average:
            results = http_load.interleaved("127.0.0.1", port, endpoints, seconds, connections)
        took = time.time() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
    baseline = results["healthz"]
    print(f"parts in database      {parts:,}")
    print(
        f"server                 milepost serve, 2 workers, 127.0.0.1; {connections} client connections; "
        f"{seconds:g} s per endpoint in {http_load.ROUNDS} alternating rounds ({took:.0f} s in all)"
    )
    print(f"load average (1 min)   {load_average.describe()} on {os.cpu_count()} cores")
    print(http_load.line("healthz", baseline))
    verdicts = {}
    for name, target in TARGETS.items():
        result = results[name]
        ratio = result["rps"] / baseline["rps"]
        met = ratio >= target and result["p99"] < P99_MS and result["errors"] == 0
        verdicts[name] = {"ratio": round(ratio, 3), "target": target, "met": met}
        print(
            http_load.line(name, result, baseline)
            + f"  target {target}x, p99 < {P99_MS:g}: {'met' if met else 'NOT met'}"
        )
    RESULTS.mkdir(exist_ok=True)
    figures = {
        "parts": parts,
        "connections": connections,
        "seconds_per_endpoint": seconds,
        "load_average": load_average.samples,
        "results": results,
        "targets": verdicts,
    }
    (RESULTS / "bench_volume.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main(
        sys.argv[1],
        float(sys.argv[2]) if len(sys.argv) > 2 else 20.0,
        int(sys.argv[3]) if len(sys.argv) > 3 else 8,
    )
