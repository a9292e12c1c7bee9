"""Benchmark: `milepost chain verify` over generated custody chains (issue 11 item 4: 50,000 events/s).

    python -m bench.generate postgresql+psycopg://postgres@127.0.0.1:5432/milepost_chain --scale 0.01
    python -m bench.bench_chain_verify postgresql+psycopg://postgres@127.0.0.1:5432/milepost_chain [--processes 1 2]
        [--paths python database] [--rounds 2]

Verifies every chain of a database made by `bench.generate` (its key ring, `bench.generate.KEYS`) once per
path and process count, alternating, and reports events per second of wall time and per CPU second (this
process and its PostgreSQL backends, read from /proc: on a shared machine the wall time mostly measures the
wait for a core). `python` is the MACs and digests computed in Python (forked processes when parallel),
`database` is PostgreSQL computing them (threads with a connection each when parallel). PostgreSQL's own
parallel workers are turned off for the measured connections, so that every CPU second is counted. The same
run's baseline is a plain streamed read of the same event rows.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

from sqlalchemy import Engine, event, select, text
from sqlalchemy.orm import Session

from app.db import make_engine
from app.signing import KeyRing
from bench.generate import KEYS
from milepost.model_registry import load_all_models
from traceability.chain import EVENTS, verify_chain


def backend_cpu(session: Session) -> float:
    """Return the CPU seconds the session's PostgreSQL backend has used (same machine: /proc)."""
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar()
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


class Backends:
    """Every PostgreSQL backend this process opens meanwhile (the verifying threads' connections too): their
    CPU seconds, read from /proc just before each closes, and no parallel workers for their queries."""

    def __init__(self) -> None:
        self.cpu, self.pids, self.lock = 0.0, {}, threading.Lock()

    def connected(self, connection, _record) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SET max_parallel_workers_per_gather = 0")
            cursor.execute("SELECT pg_backend_pid()")
            pid = cursor.fetchone()[0]
        with self.lock:
            self.pids[id(connection)] = (pid, _pid_cpu(pid))

    def closing(self, connection, _record) -> None:
        with self.lock:
            pid, start = self.pids.pop(id(connection), (None, 0.0))
            if pid is not None:
                self.cpu += _pid_cpu(pid) - start

    def total(self) -> float:
        with self.lock:
            return self.cpu + sum(_pid_cpu(pid) - start for pid, start in self.pids.values())


def _pid_cpu(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(url: str, ring: KeyRing, processes: int, in_database: bool) -> dict:
    backends = Backends()
    event.listen(Engine, "connect", backends.connected)
    event.listen(Engine, "close", backends.closing)
    try:
        engine = make_engine(url)
        with Session(engine) as session:
            session.connection()
            client, children = time.process_time(), children_cpu()
            server = backends.total()
            started = time.perf_counter()
            checked, problem = verify_chain(session, ring, processes=processes, url=url, in_database=in_database)
            seconds = time.perf_counter() - started
            cpu = time.process_time() - client + backends.total() - server
        engine.dispose()
    finally:
        event.remove(Engine, "connect", backends.connected)
        event.remove(Engine, "close", backends.closing)
    return {
        "events": checked,
        "problem": problem,
        "seconds": seconds,
        "cpu": cpu,
        # Forked worker processes of the Python path (their own PostgreSQL backends are not counted).
        "workers_cpu": children_cpu() - children,
    }


def plain_read(url: str) -> tuple[int, float, float]:
    """Stream the events' rows once, doing nothing with them: the floor of any verification."""
    engine = make_engine(url)
    with Session(engine) as session:
        server, client = backend_cpu(session), time.process_time()
        started = time.perf_counter()
        rows = session.execute(select(EVENTS).order_by(EVENTS.c.id).execution_options(yield_per=5_000))
        count = sum(1 for _ in rows)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - client + backend_cpu(session) - server
    engine.dispose()
    return count, seconds, cpu


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_chain_verify", description=__doc__.split("\n\n")[0])
    parser.add_argument("url", help="postgresql+psycopg://... filled by bench.generate")
    parser.add_argument("--processes", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--paths", nargs="+", choices=["python", "database"], default=["python", "database"])
    parser.add_argument("--rounds", type=int, default=2)
    arguments = parser.parse_args(argv)
    load_all_models()
    ring = KeyRing.from_spec(KEYS)
    for round_number in range(1, arguments.rounds + 1):
        load = os.getloadavg()[0]
        count, seconds, cpu = plain_read(arguments.url)
        print(
            f"round {round_number} plain read: {count:,} events in {seconds:.2f} s = {count / seconds:,.0f}/s"
            f" ({count / cpu:,.0f} per CPU second); load average {load:.1f}",
            flush=True,
        )
        # Alternating: each round runs the paths in the opposite order of the round before.
        paths = arguments.paths if round_number % 2 else arguments.paths[::-1]
        for processes in arguments.processes:
            for path in paths:
                load = os.getloadavg()[0]
                figures = measure(arguments.url, ring, processes, path == "database")
                if figures["problem"] is not None:
                    raise SystemExit(f"chain broken: {figures['problem']}")
                rate = figures["events"] / figures["seconds"]
                cpu = figures["cpu"] + figures["workers_cpu"]
                line = (
                    f"round {round_number} {path:8s} --processes {processes}: {figures['events']:,} events in"
                    f" {figures['seconds']:.2f} s = {rate:,.0f} events/s ({rate / (count / seconds):.2f}x the plain"
                    f" read), CPU {figures['cpu']:.2f} s (this process and its backends)"
                )
                if figures["workers_cpu"]:
                    line += f" + {figures['workers_cpu']:.2f} s (forked workers, their backends not counted)"
                line += f" = {figures['events'] / cpu:,.0f} events per CPU second"
                print(line + f"; load average {load:.1f}", flush=True)


if __name__ == "__main__":
    main()
