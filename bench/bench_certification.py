"""Benchmark: the certification evaluation over one OEM's network (issue 11 item 4: under 60 s, under 1 GB).

    python -m bench.bench_certification postgresql+psycopg://postgres@127.0.0.1:5432/milepost_bench_cert \
        [--generate] [--scale 1.0] [--rounds 2] [--tracemalloc]

`--generate` (or an empty database) empties the database, builds the schema by the migrations and fills the
network part of `bench.generate` at `--scale` (1.0: 10,000 shops, 2,000,000 bookings, 1,000,000 reviews, with
their customers and vehicles), then gives some reviews a follow-up, flags or hides a few and adds roadside
offers, so every branch of the scores and KPIs has rows. Each round runs the evaluation job
(`reviews.evaluate_certification`, all shops, as the worker runs it) in a fresh process and reports its wall
time, its CPU time and its PostgreSQL backends' (from /proc: on a shared machine the wall time mostly
measures the wait for a core), and the process's peak resident memory (`ru_maxrss`); `--tracemalloc` also
reports the peak of Python allocations (tracemalloc slows Python down about twice, so its round's time is not
the figure). The rounds start from no certification state, like the demo's two evaluations: the first
proposes, the second confirms.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context

import psycopg
from sqlalchemy import event, text
from sqlalchemy.orm import Session

from app.config import DEFAULTS
from app.db import make_engine, make_sessionmaker
from app.signing import KeyRing
from bench import generate_network
from bench.generate import KEYS, sizes
from bench.generate_copy import copy_rows, reset_sequences, set_aside_indexes
from milepost import migrate
from milepost.model_registry import load_all_models

TABLES = ("customers", "vehicles", "vehicle_ownerships", "bookings", "booking_slots", "reviews", "plaques")
CERTIFICATION_TABLES = ("certification_changes", "certification_states", "shop_scores", "evaluation_runs")


def _say(started: float, message: str) -> None:
    print(f"[{time.perf_counter() - started:7.1f} s] {message}", flush=True)


def add_variety(connection: psycopg.Connection, rng: random.Random, now: datetime) -> dict:
    """Give reviews follow-ups, flags and moderation, and shops roadside offers (every KPI branch has rows)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT max(id) FROM reviews")
        last = cursor.fetchone()[0] or 0
        follow_ups = (
            (number, review_id, "后来配件坏了", rng.choice((None, 1, 2, 4)), now - timedelta(days=rng.randrange(60)))
            for number, review_id in enumerate(sorted(rng.sample(range(1, last + 1), last // 20)), start=1)
        )
        made = copy_rows(
            connection, "review_follow_ups", ("id", "review_id", "text", "overall", "created_at"), follow_ups
        )
        flagged = sorted(rng.sample(range(1, last + 1), last // 100))
        copy_rows(
            connection,
            "review_flags",
            ("review_id", "reason", "detail", "created_at"),
            ((review_id, rng.choice(("bay_burst", "pair_cap", "affiliated")), "bench", now) for review_id in flagged),
        )
        cursor.execute("UPDATE reviews SET is_flagged = true WHERE id = ANY(%s)", (flagged,))
        cursor.execute("UPDATE reviews SET is_hidden = true WHERE id % 200 = 7")
        cursor.execute("SELECT id FROM shops ORDER BY id")
        shops = [row[0] for row in cursor.fetchall()]
        cursor.execute("SELECT (SELECT count(*) FROM vehicles), (SELECT count(*) FROM customers)")
        vehicles, customers = cursor.fetchone()
        requests, offers = [], []
        for number in range(1, len(shops) * 3 + 1):
            offered = now - timedelta(days=rng.uniform(0, 300))
            vehicle = rng.randint(1, vehicles)
            requests.append(
                (number, min(vehicle, customers), vehicle, 30.0, 110.0, "爆胎", [], "closed", 0, 30.0, offered, offered)
            )
            status = rng.choice(("accepted", "accepted", "declined", "withdrawn", "withdrawn"))
            answered = offered + timedelta(minutes=rng.uniform(1, 30)) if status != "withdrawn" else None
            offers.append((number, number, rng.choice(shops), 0, rng.uniform(1, 30), status, offered, answered))
        columns = ("id", "customer_id", "vehicle_id", "lat", "lon", "description", "photos", "status", "round")
        columns += ("radius_km", "round_started_at", "created_at")
        copy_rows(connection, "assistance_requests", columns, requests)
        columns = ("id", "request_id", "shop_id", "round", "distance_km", "status", "offered_at", "responded_at")
        roadside = copy_rows(connection, "assistance_offers", columns, offers)
    return {"follow_ups": made, "flagged": len(flagged), "offers": roadside}


def generate(url: str, scale: float, seed: int) -> None:
    """Empty the database, migrate it and fill the network part of the year at `scale`."""
    started = time.perf_counter()
    counts = sizes(scale)
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    load_all_models()
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
        migrate.upgrade(connection=connection)
    _say(started, "schema built by the migrations")
    network = generate_network.Network()
    ring = KeyRing.from_spec(KEYS)
    with Session(engine) as session:
        generate_network.add_organizations(session, rng, counts, network)
        shops = generate_network.add_shops(session, rng, counts["shops"], network, float(DEFAULTS["NETWORK_SNAP_KM"]))
        session.commit()
        _say(started, f"{len(shops):,} shops")
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute("SET synchronous_commit = off")
            rebuild = set_aside_indexes(connection, TABLES)
            generate_network.add_plaques(connection, ring, shops, now)
            generate_network.add_people(connection, rng, counts, network, now)
            bookings, reviews = generate_network.add_bookings_and_reviews(connection, rng, counts, network, now)
            _say(started, f"{bookings:,} bookings, {reviews:,} reviews; rebuilding {len(rebuild)} keys and indexes")
            connection.execute("SET maintenance_work_mem = '1GB'")
            for statement in rebuild:
                connection.execute(statement)
            reset_sequences(connection, ("customers", "vehicles", "vehicle_ownerships", "bookings", "reviews"))
            extra = add_variety(connection, rng, now)
            reset_sequences(
                connection, ("review_follow_ups", "review_flags", "assistance_requests", "assistance_offers")
            )
            connection.execute("ANALYZE")
            _say(started, f"{extra}; done")
    engine.dispose()


def reset_certification(url: str) -> None:
    """Forget every evaluation (scores, states, history, runs; the activity log is append-only and stays)."""
    engine = make_engine(url)
    with engine.begin() as connection:
        for table in CERTIFICATION_TABLES:
            connection.execute(text(f"DELETE FROM {table}"))
    engine.dispose()


def evaluate_once(url: str, trace: bool) -> dict:
    """Run the evaluation job once in this (fresh) process; return its time, memory and summary."""
    import tracemalloc

    from app.jobs import execute_job
    from app.web.context import KEYRING_KEY
    from reviews.certification import EVALUATION_JOB

    load_all_models()
    import reviews.tasks  # noqa: F401 (declares the job)

    engine = make_engine(url)
    backends: list[int] = []

    @event.listens_for(engine, "connect")
    def _remember_backend(connection, _record) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            backends.append(cursor.fetchone()[0])

    settings = dict(DEFAULTS)
    extras = {KEYRING_KEY: KeyRing.from_spec(KEYS)}
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if trace:
        tracemalloc.start()
    started, cpu = time.perf_counter(), time.process_time()
    run = execute_job(make_sessionmaker(engine), settings, EVALUATION_JOB, extras=extras)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1] if trace else None
    server_cpu = sum(_process_cpu(pid) for pid in backends)
    engine.dispose()
    return {
        "state": run.state,
        "error": (run.error or "")[-2000:],
        "result": run.result,
        "seconds": seconds,
        "cpu": cpu,
        "server_cpu": server_cpu,
        "rss_before_mb": before / 1024,
        "rss_peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "traced_peak_mb": peak / 2**20 if peak is not None else None,
    }


def _process_cpu(pid: int) -> float:
    """CPU seconds used so far by process `pid` (a PostgreSQL backend on this machine)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def count_rows(url: str) -> dict:
    engine = make_engine(url)
    with engine.connect() as connection:
        counts = {
            table: connection.execute(text(f"SELECT count(*) FROM {table}")).scalar()
            for table in ("shops", "bookings", "reviews", "review_follow_ups", "review_flags", "assistance_offers")
        }
    engine.dispose()
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_certification", description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="postgresql+psycopg://... (emptied when generating)")
    parser.add_argument("--generate", action="store_true", help="build the data even if the database has some")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 10,000 shops and 1,000,000 reviews")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--tracemalloc", action="store_true", help="an extra round measuring Python allocations")
    arguments = parser.parse_args(argv)
    if not arguments.url.startswith("postgresql"):
        parser.error("the bench fills PostgreSQL (COPY)")
    try:
        has_data = count_rows(arguments.url)["reviews"] > 0
    except Exception:  # noqa: BLE001 - no schema yet
        has_data = False
    if arguments.generate or not has_data:
        generate(arguments.url, arguments.scale, arguments.seed)
    print("rows:", ", ".join(f"{table} {count:,}" for table, count in count_rows(arguments.url).items()))
    reset_certification(arguments.url)
    traced = [False] * arguments.rounds + ([True] if arguments.tracemalloc else [])
    for number, trace in enumerate(traced, start=1):
        if trace:
            reset_certification(arguments.url)
        load = os.getloadavg()
        with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as pool:
            figures = pool.submit(evaluate_once, arguments.url, trace).result()
        if figures["state"] != "succeeded":
            raise SystemExit(f"round {number} {figures['state']}: {figures['error']}")
        result = figures["result"]
        line = (
            f"round {number}{' (tracemalloc)' if trace else ''}: {result['shops_evaluated']:,} shops in"
            f" {figures['seconds']:.1f} s (CPU {figures['cpu']:.1f} s, PostgreSQL {figures['server_cpu']:.1f} s),"
            f" peak RSS {figures['rss_peak_mb']:.0f} MB"
            f" (at start {figures['rss_before_mb']:.0f} MB)"
        )
        if trace:
            line += f", Python allocations peak {figures['traced_peak_mb']:.0f} MB"
        line += f"; {result['changes']:,} changes, {result['pending']:,} pending; load average {load[0]:.1f}"
        print(line, flush=True)


if __name__ == "__main__":
    main()
