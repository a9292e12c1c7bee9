"""Benchmark: what monthly partitions cost and save on scans, against a plain copy of the same rows.

    python -m bench.bench_partitions postgresql+psycopg://.../milepost_bench [rounds]

Runs on a database filled by `python -m bench.generate`. A temporary, unpartitioned copy of `scans` with the
same indexes is made in the benchmark's own session; then, in alternating rounds, the same queries run on
both: a part's newest scans (the alert page: no time bound, so one index probe per monthly partition) and a
count of one week's scans (the statistics: pruned to the week's partition). Prints microseconds per query
and the ratio partitioned / plain.
"""

from __future__ import annotations

import random
import sys
import time
from datetime import timedelta

from sqlalchemy import text

from app.db import make_engine

QUERIES_PER_ROUND = 300
PART_QUERY = "SELECT id FROM {table} WHERE part_id = :part ORDER BY scanned_at DESC, id DESC LIMIT 100"
WEEK_QUERY = "SELECT count(*) FROM {table} WHERE scanned_at >= :since AND scanned_at < :since + interval '7 days'"


def _time(connection, statement: str, values: list[dict]) -> float:
    """Return the mean seconds per execution of `statement` over `values`."""
    started = time.perf_counter()
    for bound in values:
        connection.execute(text(statement), bound).all()
    return (time.perf_counter() - started) / len(values)


def main(url: str, rounds: int = 6) -> None:
    engine = make_engine(url)
    rng = random.Random(11)
    with engine.connect() as connection:
        partitions = connection.scalar(text("SELECT count(*) FROM pg_inherits WHERE inhparent = 'scans'::regclass"))
        rows = connection.scalar(text("SELECT count(*) FROM scans"))
        connection.execute(text("CREATE TEMP TABLE scans_plain AS SELECT * FROM scans"))
        connection.execute(text("CREATE INDEX ON scans_plain (part_id, scanned_at)"))
        connection.execute(text("CREATE INDEX ON scans_plain (scanned_at)"))
        connection.execute(text("ANALYZE scans_plain"))
        high = connection.scalar(text("SELECT max(id) FROM parts"))
        first, last = connection.execute(text("SELECT min(scanned_at), max(scanned_at) FROM scans")).one()
        totals = {(query, table): 0.0 for query in ("part", "week") for table in ("scans", "scans_plain")}
        for number in range(rounds):
            parts = [{"part": rng.randint(1, high)} for _ in range(QUERIES_PER_ROUND)]
            span = (last - first).total_seconds() - 7 * 86_400
            weeks = [{"since": first + timedelta(seconds=rng.random() * span)} for _ in range(QUERIES_PER_ROUND // 10)]
            # Alternate which table goes first, so a warming cache favours neither.
            order = ("scans", "scans_plain") if number % 2 == 0 else ("scans_plain", "scans")
            for table in order:
                totals[("part", table)] += _time(connection, PART_QUERY.format(table=table), parts)
                totals[("week", table)] += _time(connection, WEEK_QUERY.format(table=table), weeks)
        with open("/proc/loadavg") as handle:
            load = handle.read().split()[:3]
    engine.dispose()
    print(f"{rows:,} scans in {partitions} partitions; {rounds} rounds; load average {' '.join(load)}")
    for query, label in (("part", "a part's newest scans"), ("week", "one week's count")):
        partitioned, plain = (totals[(query, table)] / rounds * 1e6 for table in ("scans", "scans_plain"))
        print(f"{label}: partitioned {partitioned:,.0f} us, plain {plain:,.0f} us, ratio {partitioned / plain:.2f}")


if __name__ == "__main__":
    main(sys.argv[1], *(int(value) for value in sys.argv[2:3]))
