"""Benchmark: scan verification over HTTP under gunicorn against the same server's trivial endpoint (/healthz).

    python bench/bench_traceability_commission.py postgresql+psycopg://...  1000000   # fills the database
    python -m bench.bench_traceability_scan postgresql+psycopg://... [seconds] [connections]

Gunicorn listens on 127.0.0.1 only; the load comes from a separate process (threads with keep-alive-free
HTTP/1.1 requests, as phones make them), bounded by time and by request count. The sampled parts are first
moved along their custody chain through the domain services, so scans meet parts in realistic states (see
STATE_MIX); each scan carries a position near where its part is, so it takes the full path: the locked
part read, clone signals, the kept-state update and stored scan, commit. The endpoints are measured in
alternating rounds so that load from other jobs on a shared machine falls on all alike; a third load mixes
scans and /healthz on the same connections, as real traffic mixes scans with read-only requests.
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import random
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from app.crm.models import Customer, Organization, Vehicle
from app.db import make_engine
from app.security import Role, User
from app.signing import KeyRing
from bench.bench_traceability_commission import BENCH_KEYS
from tests.factories import random_vin
from tests.traceability.factories import LIMITS
from traceability.codes import activation_code_for, build_part_url
from traceability.custody import EventRequest, record_event
from traceability.models import Part

MIN_PARTS = 1_000_000
SAMPLE = 5_000
MAX_REQUESTS = 200_000
# Each endpoint is measured in this many alternating rounds (healthz, scans, healthz, ...).
ROUNDS = 4
WORKERS = 2
# Shares of the sample left at the factory, in transit, in stock at a dealer, sold, and installed.
STATE_MIX = {"produced": 0.3, "in_transit": 0.1, "in_stock": 0.3, "sold": 0.2, "installed": 0.1}
FACTORY_AT, DEALER_AT = (36.67, 117.0), (34.75, 113.62)


def _bench_organization(session: Session, kind: str, code: str, city: str, at: tuple[float, float]) -> Organization:
    organization = session.scalar(select(Organization).where(Organization.code == code))
    if organization is None:
        organization = Organization(kind=kind, code=code, name=code, city=city, lat=at[0], lon=at[1])
        session.add(organization)
        session.flush()
    return organization


def _bench_user(session: Session, role: str, organization: Organization) -> User:
    user = User(
        role=role, organization_id=organization.id, password_hash="!", email=f"{secrets.token_hex(8)}@bench.test"
    )
    session.add(user)
    session.flush()
    return user


def prepare_states(url: str, rows: list) -> list[tuple[str, str, str, tuple[float, float]]]:
    """Move the sampled parts along their chain (STATE_MIX); return each with where it now is."""
    ring = KeyRing.from_spec(BENCH_KEYS)
    engine = make_engine(url)
    with Session(engine) as session:
        factory = session.scalar(select(Organization).where(Organization.code == "FAC-BENCH"))
        dealer = _bench_organization(session, "dealer", "DLR-BENCH", "Zhengzhou", DEALER_AT)
        shipper = _bench_user(session, Role.FACTORY_STAFF, factory)
        receiver = _bench_user(session, Role.DEALER_STAFF, dealer)
        owner = Customer(kind="driver", name="Bench driver", phone=f"139{random.randrange(10**8):08d}")
        session.add(owner)
        session.flush()
        cuts, start = {}, 0
        for state, share in STATE_MIX.items():
            cuts[state] = rows[start : start + int(len(rows) * share)]
            start += len(cuts[state])

        def move(actor: User, event_type: str, parts: list, **fields) -> None:
            references = [{"gtin": gtin, "serial": serial} for gtin, serial, _ in parts]
            request = EventRequest(type=event_type, parts=references, **fields)
            record_event(session, ring, actor, request, LIMITS, client="127.0.0.1")

        moved = cuts["in_transit"] + cuts["in_stock"] + cuts["sold"] + cuts["installed"]
        move(shipper, "ship", moved, to=dealer.code)
        move(receiver, "receive", cuts["in_stock"] + cuts["sold"] + cuts["installed"])
        move(receiver, "sell", cuts["sold"] + cuts["installed"], price="100.00")
        for gtin, serial, tag in cuts["installed"]:
            vehicle = Vehicle(vin=random_vin(secrets.randbits(64)), model="HOWO TX", owner_id=owner.id)
            session.add(vehicle)
            session.flush()
            code = activation_code_for(ring, gtin, serial)
            move(receiver, "install", [(gtin, serial, tag)], vin=vehicle.vin, activation_code=code)
        session.commit()
    engine.dispose()
    placed = [(*row, FACTORY_AT) for row in cuts["produced"] + cuts["in_transit"]]
    return placed + [(*row, DEALER_AT) for row in cuts["in_stock"] + cuts["sold"] + cuts["installed"]]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def load(port: int, paths: list[str], seconds: float, connections: int, queue) -> None:
    """Request `paths` in turn from `connections` threads until the time or request budget runs out."""
    latencies: list[float] = []
    errors = [0]
    deadline = time.perf_counter() + seconds
    lock = threading.Lock()

    def worker(offset: int) -> None:
        index, mine, failed = offset, [], 0
        while time.perf_counter() < deadline and len(latencies) + len(mine) < MAX_REQUESTS:
            path = paths[index % len(paths)]
            index += connections
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            start = time.perf_counter()
            try:
                connection.request("GET", path, headers={"Accept": "application/json"})
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    failed += 1
            except OSError:
                failed += 1
            finally:
                connection.close()
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)
            errors[0] += failed

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(number,)) for number in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put((latencies, errors[0], time.perf_counter() - started))


def measure(port: int, paths: list[str], seconds: float, connections: int) -> tuple[list[float], int, float]:
    """Run one load process against `paths`; return its latencies, error count and elapsed time."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=load, args=(port, paths, seconds, connections, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def interleaved(port: int, endpoints: dict[str, list[str]], seconds: float, connections: int) -> dict[str, dict]:
    """Measure the endpoints in alternating rounds (ROUNDS each, `seconds` in all per endpoint), so that load
    from other jobs on the machine falls on both alike; return throughput and latency per endpoint."""
    runs: dict[str, list] = {name: [[], 0, 0.0] for name in endpoints}
    for number in range(ROUNDS):
        for name, paths in endpoints.items():
            start = number * len(paths) // ROUNDS
            latencies, errors, elapsed = measure(port, paths[start:] + paths[:start], seconds / ROUNDS, connections)
            runs[name][0].extend(latencies)
            runs[name][1] += errors
            runs[name][2] += elapsed
    return {name: summary(*run) for name, run in runs.items()}


def summary(latencies: list[float], errors: int, elapsed: float) -> dict:
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed,
        "p50": cuts[49] * 1000,
        "p95": cuts[94] * 1000,
        "p99": cuts[98] * 1000,
    }


def main(url: str, seconds: float, connections: int) -> None:
    engine = make_engine(url)
    with engine.connect() as connection:
        count = connection.scalar(select(func.count()).select_from(Part))
        if count < MIN_PARTS:
            sys.exit(f"only {count:,} parts; run bench_traceability_commission.py first")
        rows = connection.execute(
            select(Part.gtin, Part.serial, Part.tag).from_statement(
                text(
                    # Never scanned: a part scanned by an earlier run elsewhere would (rightly) look cloned.
                    "SELECT gtin, serial, tag FROM parts TABLESAMPLE SYSTEM (2) "
                    f"WHERE state = 'produced' AND scan_count = 0 LIMIT {SAMPLE}"
                )
            )
        ).all()
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    rng = random.Random(7)
    scan_paths = []
    placed = prepare_states(url, [tuple(row) for row in rows])
    # Planner statistics as autovacuum keeps them in production (a freshly filled bench database has none
    # for the small tables the scan joins, and the plans then scan them whole).
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("ANALYZE"))
    rng.shuffle(placed)
    for gtin, serial, tag, (near_lat, near_lon) in placed:
        lat, lon = near_lat + rng.uniform(-0.2, 0.2), near_lon + rng.uniform(-0.2, 0.2)
        full = build_part_url(base, gtin, serial, tag) + f"&lat={lat:.5f}&lon={lon:.5f}"
        scan_paths.append(urlsplit(full).path + "?" + urlsplit(full).query)
    instance = tempfile.mkdtemp(prefix="mp-bench-")
    environment = dict(
        os.environ,
        MILEPOST_DATABASE_URL=url,
        MILEPOST_CODE_KEYS=BENCH_KEYS,
        MILEPOST_SECRET_KEY="bench-only",
        MILEPOST_PUBLIC_BASE_URL=base,
        MILEPOST_INSTANCE_PATH=instance,
    )
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-w",
            str(WORKERS),
            "-b",
            f"127.0.0.1:{port}",
            "milepost.factory:create_app()",
        ],
        env=environment,
        cwd=Path(__file__).resolve().parent.parent,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/healthz")
                break
            except OSError:
                time.sleep(0.2)
        measure(port, ["/healthz"] + scan_paths[:200], 3, connections)  # warm both workers
        # Mixed: every other request on a connection is /healthz, whose ROLLBACK makes psycopg drop its
        # prepared statements, as the read-only requests of real traffic do between scans.
        mixed = [path for scan in scan_paths for path in (scan, "/healthz")]
        endpoints = {"trivial": ["/healthz"], "scans": scan_paths, "mixed": mixed}
        results = interleaved(port, endpoints, seconds, connections)
        trivial, scans, mixed_result = results["trivial"], results["scans"], results["mixed"]
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"parts in database     {count:,}")
    print(
        f"gunicorn              {WORKERS} sync workers on 127.0.0.1; "
        f"{connections} client connections, {seconds:g} s each in {ROUNDS} alternating rounds"
    )
    for name, result in (("trivial /healthz", trivial), ("scan verification", scans), ("mixed 1:1", mixed_result)):
        print(
            f"{name:21} {result['rps']:8.1f} req/s  p50 {result['p50']:6.1f} ms  p95 {result['p95']:6.1f} ms  "
            f"p99 {result['p99']:6.1f} ms  ({result['requests']:,} requests, {result['errors']} errors)"
        )
    print(f"ratio                 {scans['rps'] / trivial['rps']:.0%} of the trivial endpoint's throughput")
    # Half the mixed requests are scans: at the separate rates the mix would take 1/trivial + 1/scans per pair.
    expected = 2 / (1 / trivial["rps"] + 1 / scans["rps"])
    print(f"mixed                 {mixed_result['rps'] / expected:.0%} of what the separate rates predict")


if __name__ == "__main__":
    main(
        sys.argv[1],
        float(sys.argv[2]) if len(sys.argv) > 2 else 20.0,
        int(sys.argv[3]) if len(sys.argv) > 3 else 8,
    )
