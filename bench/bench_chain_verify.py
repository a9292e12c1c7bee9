"""Benchmark: `milepost chain verify` over generated custody chains (issue 11 item 4: 50,000 events/s).

    python -m bench.generate postgresql+psycopg://postgres@127.0.0.1:5432/milepost_chain --scale 0.01
    python -m bench.bench_chain_verify postgresql+psycopg://postgres@127.0.0.1:5432/milepost_chain [--processes 1 2]

Verifies every chain of a database made by `bench.generate` (its key ring, `bench.generate.KEYS`) once per
process count, and reports events per second of wall time and per CPU second (this process and its PostgreSQL
backend, read from /proc: on a shared machine the wall time mostly measures the wait for a core). The same
run's baseline is a plain streamed read of the same event rows, which no verification can beat.
"""

from __future__ import annotations

import argparse
import os
import time

from sqlalchemy import select, text
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


def measure(url: str, ring: KeyRing, processes: int) -> dict:
    engine = make_engine(url)
    with Session(engine) as session:
        server, client, children = backend_cpu(session), time.process_time(), children_cpu()
        started = time.perf_counter()
        checked, problem = verify_chain(session, ring, processes=processes, url=url)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - client + backend_cpu(session) - server
    engine.dispose()
    return {
        "events": checked,
        "problem": problem,
        "seconds": seconds,
        "cpu": cpu,
        # Worker processes (their own PostgreSQL backends are not counted).
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
        for processes in arguments.processes:
            load = os.getloadavg()[0]
            figures = measure(arguments.url, ring, processes)
            if figures["problem"] is not None:
                raise SystemExit(f"chain broken: {figures['problem']}")
            rate = figures["events"] / figures["seconds"]
            line = (
                f"round {round_number} verify --processes {processes}: {figures['events']:,} events in"
                f" {figures['seconds']:.2f} s = {rate:,.0f} events/s ({rate / (count / seconds):.2f}x the plain read)"
            )
            if processes == 1:
                line += f", {figures['events'] / figures['cpu']:,.0f} events per CPU second (client and backend)"
            else:
                line += f", workers used {figures['workers_cpu']:.1f} CPU s"
            print(line + f"; load average {load:.1f}", flush=True)


if __name__ == "__main__":
    main()
