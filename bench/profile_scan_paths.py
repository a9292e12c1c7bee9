"""Per-request cost of the scan paths through the Flask test client, with an optional cProfile (issue 11 item 5).

    python -m bench.profile_scan_paths postgresql+psycopg://.../milepost_bench [requests] [--paths=a,b]
        [--profile [--sort=tottime]]

The requests are bench_volume's (the same codes: stocked parts near their dealer, never-issued serials, wrong
tags). No HTTP server and no load process: the figure is the application's own time per request, in one
process, which is what the profile attributes, and the CPU time of the PostgreSQL backends serving it (read
from /proc: the server must run on this machine). Every path runs in alternating rounds, like bench_volume.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import tempfile
import time

from sqlalchemy import text

from app.db import make_engine
from bench.bench_volume import build_requests
from bench.generate import KEYS
from milepost.factory import create_app

# `--paths=` picks others of bench_volume's (comma-separated): "healthz", "plaque page", "nearest shops", ...
PATHS = ("scan JSON", "scan HTML", "unknown serial", "bad tag")
ROUNDS = 4


def _client(url: str):
    app = create_app(
        {
            "DATABASE_URL": url,
            "CODE_KEYS": KEYS,
            "SECRET_KEY": "bench-only",
            "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
            "INSTANCE_PATH": tempfile.mkdtemp(prefix="mp-profile-"),
        }
    )
    return app.test_client(use_cookies=False)


def _backend_cpu(pids: list[int]) -> float:
    """Return the CPU seconds (user + system) the database's client backends `pids` have used."""
    ticks = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _backends(monitor) -> list[int]:
    """Return the pids of the other client backends on this database (the application's pooled connections)."""
    query = (
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
    )
    return list(monitor.scalars(text(query)))


def _get(client, request) -> None:
    path, accept = request if isinstance(request, tuple) else (request, "application/json")
    response = client.get(path, headers={"Accept": accept})
    if response.status_code != 200:
        raise AssertionError(f"{path}: {response.status_code}")


def main(url: str, count: int, profile: bool, paths: tuple[str, ...] = PATHS, sort: str = "cumulative") -> None:
    endpoints, parts = build_requests(url)
    unknown = [name for name in paths if name not in endpoints]
    if unknown:
        raise SystemExit(f"unknown path {unknown[0]!r}; one of {', '.join(endpoints)}")
    endpoints = {name: _enough(endpoints[name], count) for name in paths}
    client = _client(url)
    for name in paths:  # warm: templates, compiled statements, translations
        for request in endpoints[name][-20:]:
            _get(client, request)
    per_round = count // ROUNDS
    took = dict.fromkeys(paths, 0.0)
    cpu = dict.fromkeys(paths, 0.0)
    database_cpu = dict.fromkeys(paths, 0.0)
    monitor = make_engine(url).connect()
    backends = _backends(monitor)
    profilers = {name: cProfile.Profile() for name in paths}
    for round_number in range(ROUNDS):
        for name in paths:
            requests = endpoints[name][round_number * per_round : (round_number + 1) * per_round]
            started, started_cpu = time.perf_counter(), time.process_time()
            started_database = _backend_cpu(backends)
            if profile:
                profilers[name].enable()
            for request in requests:
                _get(client, request)
            if profile:
                profilers[name].disable()
            took[name] += time.perf_counter() - started
            cpu[name] += time.process_time() - started_cpu
            database_cpu[name] += _backend_cpu(backends) - started_database
    monitor.close()
    print(f"parts {parts:,}; {per_round * ROUNDS} requests per path in {ROUNDS} rounds")
    for name in paths:
        done = per_round * ROUNDS
        print(
            f"{name:16s} {1000 * took[name] / done:7.2f} ms/request, {1000 * cpu[name] / done:6.2f} ms CPU,"
            f" database {1000 * database_cpu[name] / done:6.2f} ms CPU"
        )
    if profile:
        for name in paths:
            print(f"\n=== {name}")
            pstats.Stats(profilers[name]).sort_stats(sort).print_stats(35)


def _enough(requests: list, count: int) -> list:
    """Repeat a path's requests (healthz has one, plaques as many as shops have) to `count`."""
    return (requests * (count // max(len(requests), 1) + 1))[:count]


if __name__ == "__main__":
    options = [argument for argument in sys.argv[1:] if argument.startswith("--")]
    arguments = [argument for argument in sys.argv[1:] if not argument.startswith("--")]
    chosen = next((option.split("=", 1)[1] for option in options if option.startswith("--paths=")), "")
    main(
        arguments[0],
        int(arguments[1]) if len(arguments) > 1 else 400,
        "--profile" in options,
        tuple(name.strip() for name in chosen.split(",")) if chosen else PATHS,
        next((option.split("=", 1)[1] for option in options if option.startswith("--sort=")), "cumulative"),
    )
