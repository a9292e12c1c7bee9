"""Booking contention over HTTP: gunicorn (2 sync workers) on PostgreSQL, loopback only, bounded.

1. 50 concurrent clients book the same 2-bay slot: exactly 2 must get 201, the other 48 a 409.
2. Throughput: 50 clients each book 20 different slots of a 50-bay shop; bookings per second.
3. Index freshness across workers: a shop closed through one worker vanishes from every worker's search.

Run: .venv/bin/python -m bench.bench_network_booking_http [--url postgresql+psycopg://postgres@127.0.0.1:5432]
It creates and drops its own database (mp_network_bench).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

from bench.network_common import save

DATABASE = "mp_network_bench"
CLIENTS = 50
SLOTS_PER_CLIENT = 20


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _recreate_database(server_url: str) -> str:
    admin = create_engine(f"{server_url}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
        connection.execute(text(f"CREATE DATABASE {DATABASE}"))
    admin.dispose()
    return f"{server_url}/{DATABASE}"


def _drop_database(server_url: str) -> None:
    admin = create_engine(f"{server_url}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)"))
    admin.dispose()


def _seed(database_url: str) -> dict:
    """Create an OEM, a 2-bay shop, a 50-bay shop and 50 drivers with vehicles and bearer tokens."""
    import random

    from app.crm.customers import register_driver
    from app.crm.organizations import create_organization
    from app.crm.vehicles import register_vehicle
    from app.db import make_engine, make_sessionmaker
    from app.one_time_codes import PhoneProof
    from app.security import Role, create_user, issue_token
    from milepost.demo import make_vin
    from milepost.migrate import upgrade
    from milepost.model_registry import load_all_models
    from network.routes import RouteNetwork
    from network.shops import create_shop

    load_all_models()
    upgrade(database_url)
    engine = make_engine(database_url)
    session = make_sessionmaker(engine)()
    rng = random.Random(7)
    oem = create_organization(session, kind="oem", code="OEM", name="OEM")
    admin = create_user(
        session, role=Role.OEM_ADMIN, password="bench-password", email="oem@bench", organization_id=oem.id
    )
    common = {"services": ["repair"], "slot_minutes": 60, "open_24h": True}
    routes = RouteNetwork([])
    create_shop(
        session, {"code": "BENCH-2", "name": "Two bays", "lat": 34.75, "lon": 113.65, "bays": 2, **common}, routes, 5
    )
    create_shop(
        session, {"code": "BENCH-50", "name": "Fifty bays", "lat": 34.8, "lon": 113.7, "bays": 50, **common}, routes, 5
    )
    drivers = []
    for number in range(CLIENTS):
        customer = register_driver(
            session,
            name=f"Driver {number}",
            proof=PhoneProof.by_operator(f"1390000{number:04d}"),
            password="bench-password",
        )
        vehicle = register_vehicle(session, vin=make_vin(rng), model="HOWO", owner=customer)
        token, _record = issue_token(session, customer.user, timedelta(hours=2))
        drivers.append({"token": token, "vin": vehicle.vin})
    oem_token, _record = issue_token(session, admin, timedelta(hours=2))
    session.commit()
    session.close()
    engine.dispose()
    return {"drivers": drivers, "oem": oem_token}


def _request(connection: http.client.HTTPConnection, method: str, path: str, token: str, body: dict | None = None):
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    return response.status, payload


def _slot(hours_ahead: int):
    from datetime import datetime
    from zoneinfo import ZoneInfo

    zone = ZoneInfo("Asia/Shanghai")
    moment = datetime.now(zone).replace(minute=0, second=0, microsecond=0) + timedelta(hours=hours_ahead)
    return moment.isoformat()


def _run_clients(port: int, work) -> list:
    barrier = threading.Barrier(CLIENTS)
    results: list = [None] * CLIENTS

    def client(number: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        barrier.wait()
        results[number] = work(connection, number)
        connection.close()

    threads = [threading.Thread(target=client, args=(number,)) for number in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    parser.add_argument("--workers", type=int, default=2)
    arguments = parser.parse_args()
    database_url = _recreate_database(arguments.url)
    seeded = _seed(database_url)
    drivers = seeded["drivers"]
    port = _free_port()
    instance = tempfile.mkdtemp(prefix="milepost-bench-")
    environment = {
        **os.environ,
        "MILEPOST_DATABASE_URL": database_url,
        "MILEPOST_SECRET_KEY": "bench-only-secret",
        "MILEPOST_INSTANCE_PATH": instance,
    }
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [
            str(gunicorn),
            "-w",
            str(arguments.workers),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
            "milepost.factory:create_app()",
        ],
        env=environment,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        contested = _slot(26)

        def contend(connection, number):
            body = {"shop": "BENCH-2", "vin": drivers[number]["vin"], "service": "repair", "start": contested}
            return _request(connection, "POST", "/api/v1/bookings", drivers[number]["token"], body)[0]

        statuses = _run_clients(port, contend)

        def book_many(connection, number):
            done = 0
            for slot in range(SLOTS_PER_CLIENT):
                body = {
                    "shop": "BENCH-50",
                    "vin": drivers[number]["vin"],
                    "service": "repair",
                    "start": _slot(48 + slot),
                }
                status, _payload = _request(connection, "POST", "/api/v1/bookings", drivers[number]["token"], body)
                done += status == 201
            return done

        started = time.perf_counter()
        booked = _run_clients(port, book_many)
        seconds = time.perf_counter() - started

        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        _request(connection, "PATCH", "/api/v1/shops/BENCH-2", seeded["oem"], {"status": "closed"})
        stale = 0
        for _attempt in range(20):
            _status, payload = _request(connection, "GET", "/api/v1/shops?lat=34.75&lon=113.65&k=5", seeded["oem"])
            stale += any(item["code"] == "BENCH-2" for item in json.loads(payload)["items"])
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.close()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        _drop_database(arguments.url)
    figures = {
        "gunicorn workers": arguments.workers,
        "clients on one 2-bay slot": CLIENTS,
        "201 Created": statuses.count(201),
        "409 Conflict": statuses.count(409),
        "other statuses": sorted({status for status in statuses if status not in (201, 409)}),
        "bookings over many slots": sum(booked),
        "attempted": CLIENTS * SLOTS_PER_CLIENT,
        "seconds": round(seconds, 2),
        "bookings per second": round(sum(booked) / seconds, 1),
        "searches still showing the closed shop": stale,
    }
    save("network_booking_http", figures)
    if statuses.count(201) != 2 or statuses.count(409) != CLIENTS - 2 or stale:
        raise SystemExit("benchmark invariant broken")


if __name__ == "__main__":
    main()
