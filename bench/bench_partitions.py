"""Benchmark: what monthly partitions cost and save on scans, against a plain copy of the same rows.

    python -m bench.bench_partitions postgresql+psycopg://.../milepost_bench [rounds]

Runs on a database filled by `python -m bench.generate`. A temporary, unpartitioned copy of `scans` with the
same indexes is made in the benchmark's own session; then, in alternating rounds, the same queries run on
both: a part's newest scans (the alert page: no time bound, so one index probe per monthly partition) and a
count of one week's scans (the statistics: pruned to the week's partition), and a part's custody history
(events by id: every month's key probed, against a plain copy of custody_events). Prints microseconds per query
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
# A part's custody history (the scan page's summary): its events by id, which the month does not narrow.
HISTORY_QUERY = (
    "SELECT id, occurred_at FROM {events} WHERE id IN (SELECT event_id FROM custody_event_parts WHERE part_id = :part"
    " UNION ALL SELECT id FROM {events} WHERE batch_id = :batch AND event_type = 'commission')"
    " ORDER BY occurred_at, id"
)
TABLES = {"scans": "custody_events", "scans_plain": "custody_events_plain"}


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
        connection.execute(text("CREATE TEMP TABLE custody_events_plain AS SELECT * FROM custody_events"))
        connection.execute(text("ALTER TABLE custody_events_plain ADD PRIMARY KEY (id)"))
        connection.execute(text("CREATE INDEX ON custody_events_plain (batch_id)"))
        connection.execute(text("ANALYZE scans_plain"))
        connection.execute(text("ANALYZE custody_events_plain"))
        high = connection.scalar(text("SELECT max(id) FROM parts"))
        first, last = connection.execute(text("SELECT min(scanned_at), max(scanned_at) FROM scans")).one()
        totals = {(query, table): 0.0 for query in ("part", "week", "history") for table in TABLES}
        for number in range(rounds):
            parts = [{"part": rng.randint(1, high)} for _ in range(QUERIES_PER_ROUND)]
            histories = [
                dict(
                    connection.execute(text("SELECT id AS part, batch_id AS batch FROM parts WHERE id = :part"), bound)
                    .one()
                    ._mapping
                )
                for bound in parts[: QUERIES_PER_ROUND // 3]
            ]
            span = (last - first).total_seconds() - 7 * 86_400
            weeks = [{"since": first + timedelta(seconds=rng.random() * span)} for _ in range(QUERIES_PER_ROUND // 10)]
            # Alternate which table goes first, so a warming cache favours neither.
            order = ("scans", "scans_plain") if number % 2 == 0 else ("scans_plain", "scans")
            for table in order:
                totals[("part", table)] += _time(connection, PART_QUERY.format(table=table), parts)
                totals[("week", table)] += _time(connection, WEEK_QUERY.format(table=table), weeks)
                history = HISTORY_QUERY.format(events=TABLES[table])
                totals[("history", table)] += _time(connection, history, histories)
        with open("/proc/loadavg") as handle:
            load = handle.read().split()[:3]
    engine.dispose()
    print(f"{rows:,} scans in {partitions} partitions; {rounds} rounds; load average {' '.join(load)}")
    labels = (("part", "a part's newest scans"), ("week", "one week's count"), ("history", "a part's custody history"))
    for query, label in labels:
        partitioned, plain = (totals[(query, table)] / rounds * 1e6 for table in ("scans", "scans_plain"))
        print(f"{label}: partitioned {partitioned:,.0f} us, plain {plain:,.0f} us, ratio {partitioned / plain:.2f}")


if __name__ == "__main__":
    main(sys.argv[1], *(int(value) for value in sys.argv[2:3]))
