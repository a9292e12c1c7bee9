"""PostgreSQL's planning and execution time of each statement of the HTML scan page (issue 11 item 5).

    python -m bench.profile_scan_planning postgresql+psycopg://.../milepost_bench [requests]

The requests are bench_volume's genuine HTML scans, through the Flask test client. Every statement the page
runs on the driver (`DriverStatement`) is first run as EXPLAIN (ANALYZE, SUMMARY) inside a savepoint that is
rolled back, then for real: the figures are the server's own planning and execution times (medians and
means per page), without the HTTP server, the client or the driver round trip. Each EXPLAIN is planned
afresh, as every statement of a read-only page is (psycopg forgets its prepared statements on ROLLBACK).
"""

from __future__ import annotations

import statistics
import sys
from collections import defaultdict

from bench.bench_volume import build_requests
from bench.profile_scan_paths import _client, _get
from traceability.driver_sql import DriverStatement

ROUNDS_WARM = 20


def _explaining(timings: dict[str, list[tuple[float, float]]], names: dict[int, str]):
    run = DriverStatement._run

    def explained(self, session, parameters):
        connection = session.connection()
        form = self._form(connection.dialect)
        values = {**form.defaults, **parameters}
        for name, process in form.bind_processors.items():
            values[name] = process(values[name])
        bound = tuple(values[name] for name in form.positional) if form.positional else values
        cursor = connection.connection.dbapi_connection.cursor()
        cursor.execute("SAVEPOINT explained")
        cursor.execute("EXPLAIN (ANALYZE, SUMMARY, FORMAT JSON) " + form.sql, bound)
        plan = cursor.fetchone()[0][0]
        cursor.execute("ROLLBACK TO SAVEPOINT explained")
        cursor.close()
        timings[names.get(id(self), form.sql[:60])].append((plan["Planning Time"], plan["Execution Time"]))
        return run(self, session, parameters)

    return explained


def _statement_names() -> dict[int, str]:
    from traceability import custody_history, records, scan_storage, scans

    named = {}
    for module in (custody_history, records, scan_storage, scans):
        for name, value in vars(module).items():
            if isinstance(value, DriverStatement):
                named[id(value)] = f"{module.__name__.rsplit('.', 1)[1]}.{name}"
    return named


def main(url: str, count: int) -> None:
    endpoints, parts = build_requests(url)
    client = _client(url)
    pages = endpoints["scan HTML"]
    for request in pages[-ROUNDS_WARM:]:
        _get(client, request)
    timings: dict[str, list[tuple[float, float]]] = defaultdict(list)
    DriverStatement._run = _explaining(timings, _statement_names())
    for request in pages[:count]:
        _get(client, request)
    print(f"parts {parts:,}; {count} genuine HTML scan pages; server times in ms (median, mean per page)")
    planning_total = execution_total = 0.0
    for name, values in timings.items():
        plans, runs = [value[0] for value in values], [value[1] for value in values]
        per_page = len(values) / count
        planning_total += statistics.fmean(plans) * per_page
        execution_total += statistics.fmean(runs) * per_page
        print(
            f"{name:36s} x{per_page:.1f}  planning {statistics.median(plans):6.3f} / {statistics.fmean(plans):6.3f}"
            f"  execution {statistics.median(runs):6.3f} / {statistics.fmean(runs):6.3f}"
        )
    print(f"{'per page':36s}       planning {planning_total:6.3f}           execution {execution_total:6.3f}")


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 300)
