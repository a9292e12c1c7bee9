"""Benchmark: commissioning parts in bulk (COPY on PostgreSQL) against a plain COPY of the same rows precomputed,
and against a row-at-a-time ORM baseline, same run.

    python bench/bench_traceability_commission.py postgresql+psycopg://postgres@127.0.0.1:5432/mp_bench [count] [rounds]

The database is wiped (schema public dropped) and migrated first. Every path writes the same kind of rows
(tags and activation-code hashes); the plain COPY gets them computed beforehand, outside its timing, so it is
what PostgreSQL's side costs alone (issue 11 item 4: commissioning at least half its rate). Commissioning and
the plain COPY alternate over `rounds` rounds (which goes first alternates too, as the table grows); the
median of the rounds' ratios is reported. The ORM baseline adds and flushes one ORM object per part, on a
sample, once.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import date

from sqlalchemy import text
from sqlalchemy.orm import Session

from app.crm.models import Organization
from app.db import make_engine, make_sessionmaker, utcnow
from app.signing import KeyRing
from milepost.migrate import upgrade
from traceability.codes import new_serials
from traceability.commissioning import CHUNK, PART_COLUMNS, commission_batch, copy_text, part_rows
from traceability.models import Batch, Part, PartType

BASELINE_SAMPLE = 5_000
# A fixed key for benchmark data only, so the scan benchmark's server can verify these parts' tags.
BENCH_KEYS = "A:YmVuY2gta2V5LW5vdC1hLXNlY3JldC0wMTIzNDU2Nzg5"
PRODUCED = date(2026, 1, 1)
COPY_COLUMNS = "gtin, serial, tag, activation_hash, part_type_id, batch_id, state, holder_id, updated_at"


def timed(session: Session, count: int, write: Callable[[], object]) -> float:
    """Run `write` and commit; return parts per second."""
    start = time.perf_counter()
    write()
    session.commit()
    return count / (time.perf_counter() - start)


def new_batch(session: Session, part_type: PartType, factory: Organization, lot: str, quantity: int) -> Batch:
    batch = Batch(
        lot=lot,
        part_type_id=part_type.id,
        factory_id=factory.id,
        production_line="L1",
        production_date=PRODUCED,
        qc_result="passed",
        qc_inspector="bench",
        quantity=quantity,
        commissioned_at=utcnow(),
    )
    session.add(batch)
    session.commit()
    return batch


def commission(session: Session, ring: KeyRing, part_type: PartType, factory: Organization, count: int) -> float:
    def write() -> None:
        commission_batch(
            session,
            ring,
            part_type=part_type,
            factory=factory,
            quantity=count,
            production_line="L1",
            production_date=PRODUCED,
            qc_result="passed",
            qc_inspector="bench",
            max_quantity=count,
        )

    return timed(session, count, write)


def plain_copy(session: Session, ring: KeyRing, part_type: PartType, factory: Organization, count: int) -> float:
    batch = new_batch(session, part_type, factory, f"COPY-{time.monotonic_ns()}", count)
    serials = new_serials(count)
    fixed = f"{part_type.id}\t{batch.id}\tproduced\t{factory.id}\t2026-01-01T00:00:00+00:00"
    chunks = [copy_text(ring, part_type.gtin, serials[at : at + CHUNK], fixed) for at in range(0, count, CHUNK)]

    def write() -> None:
        cursor = session.connection().connection.driver_connection.cursor()
        with cursor.copy(f"COPY parts ({COPY_COLUMNS}) FROM STDIN") as copy:
            for chunk in chunks:
                copy.write(chunk)

    return timed(session, count, write)


def orm_baseline(session: Session, ring: KeyRing, part_type: PartType, factory: Organization) -> float:
    batch = new_batch(session, part_type, factory, "BASELINE", BASELINE_SAMPLE)
    rows = list(part_rows(ring, batch, part_type.gtin, new_serials(BASELINE_SAMPLE)))

    def write() -> None:
        for row in rows:
            session.add(Part(**dict(zip(PART_COLUMNS, row, strict=True))))
            session.flush()

    return timed(session, BASELINE_SAMPLE, write)


def main(url: str, count: int, rounds: int) -> None:
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    upgrade(url)
    ring = KeyRing.from_spec(BENCH_KEYS)
    session = make_sessionmaker(engine)()
    factory = Organization(kind="factory", code="FAC-BENCH", name="Bench factory", city="Jinan", lat=36.67, lon=117.0)
    part_type = PartType(
        part_number="BENCH-1",
        gtin="06901234000016",
        name_zh="测试",
        name_en="Bench",
        category="filters",
        guide_price=10,
        warranty_months=12,
    )
    session.add_all([factory, part_type])
    session.commit()

    print(f"database {engine.dialect.name}, {count:,} parts per round", flush=True)
    ratios = []
    for number in range(1, rounds + 1):
        load = os.getloadavg()[0]
        paths = [("commission", commission), ("copy", plain_copy)]
        if number % 2 == 0:
            paths.reverse()
        rates = {name: path(session, ring, part_type, factory, count) for name, path in paths}
        ratios.append(rates["commission"] / rates["copy"])
        print(
            f"round {number}: commissioning {rates['commission']:,.0f} parts/s, plain COPY {rates['copy']:,.0f}"
            f" parts/s, ratio {ratios[-1]:.2f}x; load average {load:.1f}",
            flush=True,
        )
    print(f"commission / COPY   median {statistics.median(ratios):.2f}x over {rounds} rounds")
    baseline = orm_baseline(session, ring, part_type, factory)
    print(f"ORM row-at-a-time   {BASELINE_SAMPLE:,} parts at {baseline:,.0f} parts/s")
    session.close()


if __name__ == "__main__":
    main(
        sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000, int(sys.argv[3]) if len(sys.argv) > 3 else 5
    )
