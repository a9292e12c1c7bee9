"""HTTP load from a separate process, measured in alternating rounds, with the load average beside it.

A request is a path (sent with Accept: application/json) or a (path, accept) pair. Each connection is a new
TCP connection per request (phones do not keep connections to us alive between scans).
"""

from __future__ import annotations

import http.client
import multiprocessing
import os
import socket
import statistics
import threading
import time

MAX_REQUESTS = 200_000
# Each endpoint is measured in this many alternating rounds (healthz, scans, healthz, ...).
ROUNDS = 4
JSON = "application/json"
HTML = "text/html,application/xhtml+xml"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(host: str, port: int, seconds: float = 60.0) -> None:
    """Wait until `host:port` answers /healthz."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            connection = http.client.HTTPConnection(host, port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{host}:{port} did not answer /healthz within {seconds:g} s")
        time.sleep(0.3)


def load(host: str, port: int, requests: list, seconds: float, connections: int, queue) -> None:
    """Send `requests` in turn from `connections` threads until the time or request budget runs out."""
    latencies: list[float] = []
    errors = [0]
    statuses: dict[int, int] = {}
    deadline = time.perf_counter() + seconds
    lock = threading.Lock()

    def worker(offset: int) -> None:
        index, mine, failed, seen = offset, [], 0, {}
        while time.perf_counter() < deadline and len(latencies) + len(mine) < MAX_REQUESTS:
            item = requests[index % len(requests)]
            path, accept = (item, JSON) if isinstance(item, str) else item
            index += connections
            connection = http.client.HTTPConnection(host, port, timeout=30)
            start = time.perf_counter()
            try:
                connection.request("GET", path, headers={"Accept": accept})
                response = connection.getresponse()
                response.read()
                seen[response.status] = seen.get(response.status, 0) + 1
                if response.status >= 500:
                    failed += 1
            except OSError:
                failed += 1
            finally:
                connection.close()
            mine.append(time.perf_counter() - start)
        with lock:
            latencies.extend(mine)
            errors[0] += failed
            for status, count in seen.items():
                statuses[status] = statuses.get(status, 0) + count

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(number,)) for number in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    queue.put((latencies, errors[0], time.perf_counter() - started, statuses))


def measure(host: str, port: int, requests: list, seconds: float, connections: int) -> tuple:
    """Run one load process against `requests`; return its latencies, errors, elapsed time and statuses."""
    # Forked, not spawned: a spawned child re-imports the caller's main module (the application, numpy), which
    # on a loaded machine costs seconds per round.
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    process = context.Process(target=load, args=(host, port, requests, seconds, connections, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


class LoadAverage:
    """Samples the 1-minute load average every `every` seconds while in use."""

    def __init__(self, every: float = 2.0) -> None:
        self.every, self.samples, self.stop = every, [], threading.Event()

    def __enter__(self) -> LoadAverage:
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        return self

    def _run(self) -> None:
        while not self.stop.wait(self.every):
            self.samples.append(os.getloadavg()[0])

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def describe(self) -> str:
        if not self.samples:
            return "n/a"
        return f"{statistics.mean(self.samples):.1f} (min {min(self.samples):.1f}, max {max(self.samples):.1f})"


def interleaved(
    host: str, port: int, endpoints: dict[str, list], seconds: float, connections: int, rounds: int = ROUNDS
) -> dict[str, dict]:
    """Measure the endpoints in alternating rounds (`rounds` each, `seconds` in all per endpoint), so that load
    from other jobs on the machine falls on all alike; return throughput and latency per endpoint."""
    runs: dict[str, list] = {name: [[], 0, 0.0, {}] for name in endpoints}
    for number in range(rounds):
        for name, requests in endpoints.items():
            start = number * len(requests) // rounds
            rotated = requests[start:] + requests[:start]
            latencies, errors, elapsed, statuses = measure(host, port, rotated, seconds / rounds, connections)
            run = runs[name]
            run[0].extend(latencies)
            run[1] += errors
            run[2] += elapsed
            for status, count in statuses.items():
                run[3][status] = run[3].get(status, 0) + count
    return {name: summary(*run) for name, run in runs.items()}


def summary(latencies: list[float], errors: int, elapsed: float, statuses: dict | None = None) -> dict:
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [latencies[0] if latencies else 0.0] * 99
    return {
        "requests": len(latencies),
        "errors": errors,
        "rps": len(latencies) / elapsed if elapsed else 0.0,
        "p50": cuts[49] * 1000,
        "p95": cuts[94] * 1000,
        "p99": cuts[98] * 1000,
        "statuses": dict(sorted((statuses or {}).items())),
    }


def line(name: str, result: dict, baseline: dict | None = None) -> str:
    """Format one endpoint's figures (and its ratio to `baseline`)."""
    ratio = f"  {result['rps'] / baseline['rps']:5.2f}x" if baseline else ""
    return (
        f"{name:22} {result['rps']:8.1f} req/s{ratio}  p50 {result['p50']:6.1f}  p95 {result['p95']:6.1f}  "
        f"p99 {result['p99']:7.1f} ms  ({result['requests']:,} requests, {result['errors']} errors, "
        f"statuses {result['statuses']})"
    )
