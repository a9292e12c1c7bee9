"""Slow clients against `milepost serve`: can a driver still get an answer while hundreds of connections trickle?

For each gunicorn worker class (the one `milepost serve` uses, and sync as the baseline) the bench starts the
real server (2 workers, a fresh SQLite instance), times 20 healthy /healthz requests, then opens N connections
that send a request line and one header line every second (slowloris) and times 20 healthy requests again.
Reported per class: median latency before and during, and the share of healthy requests answered within 5 s.
The target is milepost's class answering every healthy request during the attack (ratio 1.0) while sync
answers none. Run: .venv/bin/python -m bench.bench_slowloris [--connections 300]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from bench.network_common import save
from milepost.server import WORKER_CLASS

SERVE = (
    "import sys; from milepost.server import MilepostServer, gunicorn_options; "
    "options = gunicorn_options(sys.argv[1], 2); options.update(worker_class=sys.argv[2], accesslog=None); "
    "MilepostServer(options).run()"
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def healthy_requests(port: int, count: int = 20) -> list[float | None]:
    """Return the seconds each of `count` /healthz requests took (None: no answer within 5 s)."""
    times: list[float | None] = []
    for _ in range(count):
        start = time.perf_counter()
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5).read()
            times.append(time.perf_counter() - start)
        except OSError:
            times.append(None)
    return times


def trickle(port: int, connections: int, stop: threading.Event) -> None:
    """Hold `connections` requests open, sending one more header line per second until `stop`."""
    sockets = []
    for _ in range(connections):
        try:
            held = socket.create_connection(("127.0.0.1", port), timeout=2)
            held.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            sockets.append(held)
        except OSError:
            break
    while not stop.wait(1):
        for held in sockets:
            with contextlib.suppress(OSError):
                held.send(b"X-Trickle: 1\r\n")
    for held in sockets:
        held.close()


def measure(worker_class: str, connections: int) -> dict:
    port = free_port()
    instance = tempfile.mkdtemp(prefix="mp-loris-")
    environment = {key: value for key, value in os.environ.items() if not key.startswith("MILEPOST_")}
    environment.update(MILEPOST_INSTANCE_PATH=instance, MILEPOST_DATABASE_URL=f"sqlite:///{instance}/bench.sqlite3")
    cli = [sys.executable, "-c", "from milepost.cli import main; main()"]
    subprocess.run([*cli, "init"], env=environment, check=True, capture_output=True)
    subprocess.run([*cli, "db", "upgrade"], env=environment, check=True, capture_output=True)
    server = subprocess.Popen(
        [sys.executable, "-c", SERVE, f"127.0.0.1:{port}", worker_class], env=environment, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and healthy_requests(port, 1) == [None]:
            time.sleep(0.3)
        before = healthy_requests(port)
        stop = threading.Event()
        attacker = threading.Thread(target=trickle, args=(port, connections, stop))
        attacker.start()
        time.sleep(3)
        during = healthy_requests(port)
        stop.set()
        attacker.join()
    finally:
        server.terminate()
        server.wait(30)
    answered = [value for value in during if value is not None]
    return {
        f"{worker_class} median ms before": round(statistics.median([v for v in before if v is not None]) * 1000, 1),
        f"{worker_class} median ms during": round(statistics.median(answered) * 1000, 1) if answered else None,
        f"{worker_class} answered during (ratio)": round(len(answered) / len(during), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--connections", type=int, default=300)
    arguments = parser.parse_args()
    figures: dict = {"slow connections": arguments.connections}
    for worker_class in (WORKER_CLASS, "sync"):
        figures.update(measure(worker_class, arguments.connections))
    save("slowloris", figures)


if __name__ == "__main__":
    main()
