"""Benchmark: commissioning parts in bulk (COPY on PostgreSQL) against a plain COPY of the same rows precomputed,
and against a row-at-a-time ORM baseline, same run.

    python bench/bench_traceability_commission.py postgresql+psycopg://postgres@127.0.0.1:5432/mp_bench [count]

The database is wiped (schema public dropped) and migrated first. Every path writes the same kind of rows
(tags and activation-code hashes); the plain COPY gets them computed beforehand, outside its timing, so it is
what PostgreSQL's side costs alone (issue 11 item 4: commissioning at least half its rate). The ORM baseline
adds and flushes one ORM object per part, on a sample.
"""

from __future__ import annotations

import os
import sys
import time
from datetime import date

from sqlalchemy import text

from app.crm.models import Organization
from app.db import make_engine, make_sessionmaker
from app.signing import KeyRing
from milepost.migrate import upgrade
from traceability.codes import new_serials
from traceability.commissioning import CHUNK, PART_COLUMNS, commission_batch, copy_text, part_rows
from traceability.models import Batch, Part, PartType

BASELINE_SAMPLE = 5_000
# A fixed key for benchmark data only, so the scan benchmark's server can verify these parts' tags.
BENCH_KEYS = "A:YmVuY2gta2V5LW5vdC1hLXNlY3JldC0wMTIzNDU2Nzg5"


def main(url: str, count: int) -> None:
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

    start = time.perf_counter()
    batch = commission_batch(
        session,
        ring,
        part_type=part_type,
        factory=factory,
        quantity=count,
        production_line="L1",
        production_date=date(2026, 1, 1),
        qc_result="passed",
        qc_inspector="bench",
        max_quantity=count,
    )
    session.commit()
    bulk_seconds = time.perf_counter() - start
    bulk_rate = count / bulk_seconds

    copy_batch = Batch(
        lot="PLAIN-COPY",
        part_type_id=part_type.id,
        factory_id=factory.id,
        production_line="L1",
        production_date=date(2026, 1, 1),
        qc_result="passed",
        qc_inspector="bench",
        quantity=count,
    )
    session.add(copy_batch)
    session.commit()
    load = os.getloadavg()[0]
    serials = new_serials(count)
    fixed = f"{part_type.id}\t{copy_batch.id}\tproduced\t{factory.id}\t2026-01-01T00:00:00+00:00"
    chunks = [copy_text(ring, part_type.gtin, serials[at : at + CHUNK], fixed) for at in range(0, count, CHUNK)]
    columns = "gtin, serial, tag, activation_hash, part_type_id, batch_id, state, holder_id, updated_at"
    start = time.perf_counter()
    cursor = session.connection().connection.driver_connection.cursor()
    with cursor.copy(f"COPY parts ({columns}) FROM STDIN") as copy:
        for chunk in chunks:
            copy.write(chunk)
    session.commit()
    copy_seconds = time.perf_counter() - start
    copy_rate = count / copy_seconds
    del chunks

    baseline_batch = Batch(
        lot="BASELINE",
        part_type_id=part_type.id,
        factory_id=factory.id,
        production_line="L1",
        production_date=date(2026, 1, 1),
        qc_result="passed",
        qc_inspector="bench",
        quantity=BASELINE_SAMPLE,
    )
    session.add(baseline_batch)
    session.flush()
    start = time.perf_counter()
    for row in part_rows(ring, baseline_batch, part_type.gtin, new_serials(BASELINE_SAMPLE)):
        session.add(Part(**dict(zip(PART_COLUMNS, row, strict=True))))
        session.flush()
    session.commit()
    baseline_seconds = time.perf_counter() - start
    baseline_rate = BASELINE_SAMPLE / baseline_seconds

    print(f"database            {engine.dialect.name}")
    print(f"bulk commissioning  {count:,} parts in {bulk_seconds:.1f} s = {bulk_rate:,.0f} parts/s (batch {batch.id})")
    print(f"plain COPY          {count:,} precomputed rows in {copy_seconds:.1f} s = {copy_rate:,.0f} parts/s")
    print(f"commission / COPY   {bulk_rate / copy_rate:.2f}x (load average {load:.1f} before the COPY)")
    print(f"ORM row-at-a-time   {BASELINE_SAMPLE:,} parts in {baseline_seconds:.1f} s = {baseline_rate:,.0f} parts/s")
    print(f"ratio               {bulk_rate / baseline_rate:.1f}x")
    session.close()


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1_000_000)
