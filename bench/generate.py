"""Fill a PostgreSQL database with one OEM's realistic year (issue 11, item 1).

    python -m bench.generate postgresql+psycopg://postgres@127.0.0.1:5432/milepost_bench [--scale 0.1]

Scale 1.0 is the full year: 20,000,000 parts, about 5,000,000 custody events and 50,000,000 scans, 1,000,000
vehicles, 800,000 customers, 10,000 shops, 2,000,000 bookings, 1,000,000 reviews, alerts and recalls. Scale
0.1 is a tenth of everything that grows (the catalogue, factories and warehouses stay). The schema is built
by the migrations (the database is emptied first); the bulk goes in through COPY with the indexes set aside
and rebuilt once. The parts are simulated in `--processes` processes. The keys used to sign tags, the
activation codes and the chain are `bench.generate.KEYS` (serve the data with MILEPOST_CODE_KEYS set to them).
At the end a sample of parts goes through the real scan function (rolled back) and must get the verdict
their state implies.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from multiprocessing import get_context
from types import SimpleNamespace

import psycopg
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from app.config import DEFAULTS
from app.db import make_engine
from app.security import Role, create_user
from app.signing import CROCKFORD_ALPHABET, KeyRing
from bench import generate_network, generate_parts
from bench.generate_copy import copy_rows, reset_sequences, set_aside_indexes
from milepost import migrate
from milepost.model_registry import load_all_models
from traceability.catalogue import CATEGORIES
from traceability.chain import GENESIS_HASH, event_hash
from traceability.codes import build_gtin, read_identifiers
from traceability.models import Batch, Part, PartType, Recall
from traceability.partitions import create_partitions_ahead
from traceability.records import refresh_sale_price_ranges
from traceability.verification import ClonePolicy, verify_scan

MONTHS_AHEAD = int(DEFAULTS["PARTITION_MONTHS_AHEAD"])
KEYS = "A:YmVuY2gta2V5LW5vdC1hLXNlY3JldC0wMTIzNDU2Nzg5"
OEM_PASSWORD = "milepost-bench"
FULL_YEAR = {
    "parts": 20_000_000,
    "customers": 800_000,
    "vehicles": 1_000_000,
    "shops": 10_000,
    "dealers": 1_000,
    "fleets": 200,
    "bookings": 2_000_000,
    "reviews": 1_000_000,
}
FIXED = {"part_types": 400, "factories": 12, "warehouses": 30}
BATCH_SIZE = (2_000, 8_000)
# Scans per part the simulation's stages are scaled by (tuned so a year holds about 2.5 scans per part).
SCANS_PER_PART = 2.9
COUNTERFEIT_SHARE = 0.03
BATCHES_PER_TASK = 10
BULK_TABLES = (
    "parts",
    "custody_events",
    "custody_event_parts",
    "scans",
    "sales",
    "installations",
    "recalled_parts",
    "alerts",
    "customers",
    "vehicles",
    "vehicle_ownerships",
    "bookings",
    "booking_slots",
    "reviews",
    "plaques",
)
CHAIN_COLUMNS = (*generate_parts.EVENT_COLUMNS, "sequence", "previous_hash", "hash", "key_id")


def _say(started: float, message: str) -> None:
    print(f"[{time.perf_counter() - started:7.1f} s] {message}", flush=True)


def sizes(scale: float) -> dict:
    """Return the counts for `scale` (1.0 = one OEM's year)."""
    counts = {name: max(1, int(value * scale)) for name, value in FULL_YEAR.items()}
    counts["dealers"] = max(20, counts["dealers"])
    counts["shops"] = max(200, counts["shops"])
    return {**counts, **FIXED}


def _crockford(number: int, width: int) -> str:
    return "".join(CROCKFORD_ALPHABET[(number // 32**place) % 32] for place in reversed(range(width)))


def add_catalogue(session: Session, rng: random.Random, counts: dict, network, now: datetime) -> list:
    """Add part types, batches spread over the year and a few batch recalls; return the batch plans."""
    prefix = DEFAULTS["GS1_COMPANY_PREFIX"]
    types = []
    for index in range(counts["part_types"]):
        category = CATEGORIES[index % len(CATEGORIES)]
        price = Decimal(str(round(rng.uniform(40, 6000), 2)))
        types.append(
            PartType(
                part_number=f"WG{9700000 + index:07d}",
                gtin=build_gtin(prefix, 10_000 + index),
                name_zh=f"{category} 配件 {index}",
                name_en=f"{category.replace('_', ' ')} part {index}",
                category=category,
                guide_price=price,
                warranty_months=rng.choice((6, 12, 12, 24, 36)),
            )
        )
    session.add_all(types)
    session.flush()
    # A few part types sell far more than the rest (filters, brake linings): Zipf-like weights.
    weights = [1 / (rank + 1) for rank in range(len(types))]
    plans, made, part_id = [], 0, 1
    while made < counts["parts"]:
        quantity = min(rng.randint(*BATCH_SIZE), counts["parts"] - made)
        part_type = rng.choices(types, weights)[0]
        factory = rng.choice(network.factories)
        produced = now - timedelta(days=rng.uniform(0.5, 365))
        batch = Batch(
            lot=produced.strftime("%y%m%d") + "-" + _crockford(len(plans) + 1, 5),
            part_type_id=part_type.id,
            factory_id=factory[0],
            production_line=f"L{rng.randint(1, 8)}",
            production_date=produced.date(),
            qc_result="passed" if rng.random() < 0.97 else "concession",
            qc_inspector=rng.choice(generate_network.SURNAMES) + "工",
            quantity=quantity,
            commissioned_at=produced,  # the commissioning event's occurred_at (generate_parts)
        )
        session.add(batch)
        plans.append((batch, part_type, factory, produced, quantity, part_id))
        made += quantity
        part_id += quantity
    session.flush()
    recalled = {}
    for number, (batch, part_type, *_rest) in enumerate(rng.sample(plans, max(1, len(plans) // 100)), start=1):
        recall = Recall(
            code=f"RC-{now.year}-{number:03d}",
            scope="batch",
            batch_id=batch.id,
            part_type_id=part_type.id,
            notice_zh="该批次存在质量隐患，请联系服务站免费更换。",
            notice_en="This batch has a quality defect; a service shop replaces it free of charge.",
            part_count=batch.quantity,
        )
        session.add(recall)
        session.flush()
        recalled[batch.id] = recall.id
    return [
        generate_parts.BatchPlan(
            batch.id,
            part_type.id,
            part_type.gtin,
            part_type.guide_price,
            factory,
            produced,
            quantity,
            first,
            recalled.get(batch.id),
        )
        for batch, part_type, factory, produced, quantity, first in plans
    ]


def add_counterfeit_scans(connection, rng: random.Random, count: int, gtins: list[str], network, now: datetime) -> list:
    """Add scans of codes that were never issued (made-up serials, copied GTINs); return their alerts."""
    places = network.dealers + network.shops
    alerts = []

    def rows():
        for number in range(count):
            where = rng.choice(places)
            lat, lon = round(where[1] + rng.uniform(-0.05, 0.05), 2), round(where[2] + rng.uniform(-0.05, 0.05), 2)
            serial = _crockford(rng.getrandbits(60), 12)
            gtin = rng.choice(gtins)
            at = now - timedelta(days=rng.uniform(0, 365))
            reasons = ["bad_tag", "unknown_serial"] if rng.random() < 0.8 else ["missing_tag", "unknown_serial"]
            if number % 5 == 0:
                alerts.append((reasons, gtin, serial, at, where[0]))
            yield (None, gtin, serial, "counterfeit", reasons, None, lat, lon, None, where[3], None, None, at)

    copy_rows(connection, "scans", generate_parts.SCAN_COLUMNS, rows())
    return alerts


def stage_events(connection) -> None:
    """Make the unlogged table the simulating processes put their unlinked events in."""
    columns = ", ".join(generate_parts.EVENT_COLUMNS)
    connection.execute(f"DROP TABLE IF EXISTS {generate_parts.STAGING_EVENTS}")
    connection.execute(
        f"CREATE UNLOGGED TABLE {generate_parts.STAGING_EVENTS} AS SELECT {columns} FROM custody_events WITH NO DATA"
    )


def link_chain(connection, ring: KeyRing, dsn: str) -> int:
    """Link the staged events into their organizations' keyed chains in the order they were recorded; store
    them with the heads and drop the staging table. The events are read sorted by PostgreSQL and streamed (a
    second connection reads while this one copies): none is held in memory."""
    columns = ", ".join(generate_parts.EVENT_COLUMNS)
    organization = generate_parts.EVENT_COLUMNS.index("organization_id")
    heads: dict[int, tuple[int, str]] = {}

    def rows(cursor):
        for event in cursor:
            sequence, previous = heads.get(event[organization], (0, GENESIS_HASH))
            fields = dict(zip(generate_parts.EVENT_COLUMNS, event, strict=True))
            linked = SimpleNamespace(**fields, sequence=sequence + 1, previous_hash=previous, key_id=ring.signing_kid)
            digest = event_hash(ring, linked)
            heads[event[organization]] = (sequence + 1, digest)
            yield (*event, sequence + 1, previous, digest, ring.signing_kid)

    with psycopg.connect(dsn) as reader, reader.cursor(name="staged_events") as cursor:
        reader.execute("SET TimeZone = 'UTC'")
        cursor.itersize = 20_000
        cursor.execute(
            f"SELECT {columns} FROM {generate_parts.STAGING_EVENTS} ORDER BY organization_id, recorded_at, id"
        )
        written = copy_rows(connection, "custody_events", CHAIN_COLUMNS, rows(cursor))
    head_rows = ((organization_id, sequence, digest) for organization_id, (sequence, digest) in heads.items())
    copy_rows(connection, "custody_chain_heads", ("organization_id", "sequence", "hash"), head_rows)
    connection.execute(f"DROP TABLE {generate_parts.STAGING_EVENTS}")
    return written


def add_alerts(connection, part_alerts: list[tuple], code_alerts: list[tuple]) -> int:
    """Add the alerts the scans raised: one per suspect part and per counterfeit code."""

    def rows():
        for cause, part_id, at, organization in part_alerts:
            details = {"verdict": "suspect", "reasons": [cause]}
            yield (f"{cause}:part:{part_id}", cause, "open", part_id, None, None, organization, details, 1, at, at, "")
        for reasons, gtin, serial, at, organization in code_alerts:
            details = {"verdict": "counterfeit", "reasons": reasons}
            for cause in reasons:
                key = f"{cause}:code:{gtin}|{serial}"
                yield (key, cause, "open", None, gtin, serial, organization, details, 1, at, at, "")

    columns = (
        "dedupe_key",
        "cause",
        "status",
        "part_id",
        "gtin",
        "serial",
        "organization_id",
        "details",
        "occurrences",
        "first_seen_at",
        "last_seen_at",
        "note",
    )
    return copy_rows(connection, "alerts", columns, rows())


EXPECTED = {
    "produced": {"genuine"},
    "in_transit": {"genuine"},
    "in_stock": {"genuine"},
    "sold": {"genuine"},
    "installed": {"installed"},
    "removed": {"genuine", "suspect"},
    "destroyed": {"void"},
}


def check_sample(url: str, sample: int, rng: random.Random) -> int:
    """Scan `sample` random parts through the real scan function (rolled back); return how many disagree."""
    ring = KeyRing.from_spec(KEYS)
    policy = ClonePolicy(max_speed_kmh=150, max_cities=4, far_km=500, history=50)
    engine = make_engine(url)
    wrong = 0
    with Session(engine) as session:
        top = session.scalar(select(Part.id).order_by(Part.id.desc()).limit(1))
        for _ in range(sample):
            part = session.get(Part, rng.randrange(1, top + 1))
            link = read_identifiers(part.gtin, part.serial, part.tag)
            outcome = verify_scan(session, ring, link, origin="", position=None, intent=None, actor=None, policy=policy)
            expected = {"recalled"} if part.recall_id and part.state != "destroyed" else EXPECTED[part.state]
            if part.alert_signals and part.state != "destroyed" and not part.recall_id:
                expected = {"suspect"}
            if outcome.verdict not in expected:
                wrong += 1
                print(f"  part {part.id} ({part.state}) scanned {outcome.verdict} {outcome.reasons}", file=sys.stderr)
            session.rollback()
        bad = read_identifiers(part.gtin, part.serial, "A" + "0" * 16)
        made_up = read_identifiers(part.gtin, "ZZZZZZZZZZZZ", part.tag)
        for link in (bad, made_up):
            outcome = verify_scan(session, ring, link, origin="", position=None, intent=None, actor=None, policy=policy)
            wrong += outcome.verdict != "counterfeit"
            session.rollback()
    engine.dispose()
    return wrong


def generate(url: str, scale: float, processes: int, seed: int, sample: int, quiet: bool = False) -> None:
    """Build the schema and fill it; print progress and the time each stage took (unless `quiet`)."""
    started = time.perf_counter()

    def say(message: str) -> None:
        if not quiet:
            _say(started, message)

    counts = sizes(scale)
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    load_all_models()
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
        migrate.upgrade(connection=connection)
    with Session(engine) as session:
        # The year reaches back 365 days: its months need their partitions before the COPY (PostgreSQL would
        # put the rows in the default partition otherwise).
        made = create_partitions_ahead(session, now, MONTHS_AHEAD, since=now - timedelta(days=366))
        session.commit()
    say(f"schema built by the migrations, {len(made)} more monthly partitions")
    network = generate_network.Network()
    ring = KeyRing.from_spec(KEYS)
    with Session(engine) as session:
        generate_network.add_organizations(session, rng, counts, network)
        create_user(
            session, role=Role.OEM_ADMIN, password=OEM_PASSWORD, email="oem@bench.test", organization_id=network.oem_id
        )
        shops = generate_network.add_shops(session, rng, counts["shops"], network, float(DEFAULTS["NETWORK_SNAP_KM"]))
        say(f"{len(network.dealers):,} dealers, {len(shops):,} shops on the routes")
        plans = add_catalogue(session, rng, counts, network, now)
        gtins = sorted({plan.gtin for plan in plans})
        session.commit()
        say(f"{counts['part_types']} part types, {len(plans):,} batches")
        dsn = url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, autocommit=True) as connection:
            connection.execute("SET synchronous_commit = off")
            rebuild = set_aside_indexes(connection, BULK_TABLES)
            generate_network.add_plaques(connection, ring, shops, now)
            generate_network.add_people(connection, rng, counts, network, now)
            say(f"{counts['customers']:,} customers, {counts['vehicles']:,} vehicles")
            bookings, reviews = generate_network.add_bookings_and_reviews(connection, rng, counts, network, now)
            say(f"{bookings:,} bookings, {reviews:,} reviews")
            world = generate_parts.World(
                KEYS,
                network.warehouses,
                network.dealers,
                [shop[:4] for shop in network.shops],
                network.customers,
                network.vehicles,
                now,
                SCANS_PER_PART,
                frozenset(shop[0] for shop in network.shops),
            )
            stage_events(connection)
            part_alerts, totals = [], {}
            tasks = [plans[start : start + BATCHES_PER_TASK] for start in range(0, len(plans), BATCHES_PER_TASK)]
            with ProcessPoolExecutor(max_workers=processes, mp_context=get_context("spawn")) as pool:
                futures = [
                    pool.submit(generate_parts.simulate_batches, dsn, world, task, seed * 100_003 + number)
                    for number, task in enumerate(tasks)
                ]
                for future in as_completed(futures):
                    result = future.result()
                    part_alerts.extend(result["alerts"])
                    for name, value in result["counts"].items():
                        totals[name] = totals.get(name, 0) + value
                    _say(
                        started,
                        f"parts {totals['parts']:,} / {counts['parts']:,}, events {totals['events']:,},"
                        f" scans {totals['scans']:,}",
                    )
            fakes = int(totals["scans"] * COUNTERFEIT_SHARE / (1 - COUNTERFEIT_SHARE))
            code_alerts = add_counterfeit_scans(connection, rng, fakes, gtins, network, now)
            say(f"{fakes:,} counterfeit scans")
            chained = link_chain(connection, ring, dsn)
            say(f"{chained:,} custody events linked into the chain")
            alerts = add_alerts(connection, part_alerts, code_alerts)
            say(f"{alerts:,} alerts; rebuilding {len(rebuild)} keys and indexes")
            connection.execute("SET maintenance_work_mem = '1GB'")
            for number, statement in enumerate(rebuild, start=1):
                began = time.perf_counter()
                connection.execute(statement)
                if time.perf_counter() - began > 30:
                    # At the full year one key takes minutes: show which, so a long silence is explained.
                    say(f"  {number}/{len(rebuild)} took {time.perf_counter() - began:.0f} s: {statement[:90]}")
            reset_sequences(
                connection,
                ("parts", "custody_events", "customers", "vehicles", "vehicle_ownerships", "bookings", "reviews"),
            )
            connection.execute("ANALYZE")
            say("indexes rebuilt, statistics gathered")
            size = connection.execute("SELECT pg_size_pretty(pg_database_size(current_database()))").fetchone()[0]
    with Session(engine) as session:
        # What the periodic job keeps for the scan pages.
        refresh_sale_price_ranges(session)
        session.commit()
    engine.dispose()
    wrong = check_sample(url, sample, rng)
    say(
        f"done: {sum(totals.values()):,} rows in the big tables, database {size};"
        f" {sample} sampled scans, {wrong} with an unexpected verdict"
    )
    if wrong:
        sys.exit(1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="postgresql+psycopg://... (emptied first)")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = one OEM's year; 0.1 = 2M parts")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--sample", type=int, default=200, help="parts scanned through the real scan function")
    arguments = parser.parse_args(argv)
    if not arguments.url.startswith("postgresql"):
        parser.error("the generator fills PostgreSQL (COPY)")
    generate(arguments.url, arguments.scale, arguments.processes, arguments.seed, arguments.sample)


if __name__ == "__main__":
    main()
