"""Two application hosts behind nginx, one PostgreSQL, on this machine (issue 11 item 6a). Run as root.

    python -m bench.scale_out postgresql+psycopg://postgres@127.0.0.1:5432/milepost_bench [seconds] [connections]

Sets up, measures and tears down by itself (also after a failure or Ctrl-C):
- two network namespaces, mp-app1 and mp-app2, each joined to this one by a veth pair (10.211.N.1 here,
  10.211.N.2 inside); in each `milepost serve --workers 2 --no-worker` listens on 10.211.N.2:8000;
- PostgreSQL is the one on 127.0.0.1:5432 (it listens on localhost only, and restarting a shared cluster to
  change that is not ours to do): a socat relay on 10.211.N.1:5432 carries each host's connections to it;
- Debian's nginx (its own prefix and configuration under a temporary folder, not the system service) on
  127.0.0.1 with two listeners: one proxies to host 1 only, the other to both hosts (least connections).

Measured: throughput and latency of the scan mix (genuine scans as JSON and HTML, unknown serials, wrong tags)
through nginx to 1 host and to 2 hosts in alternating rounds; then index freshness across hosts: a shop closed
by the OEM through host 1 (PATCH), and the time until a nearest-shops search on host 2 no longer returns it
(each host keeps its shop index in memory and checks the network stamp in the database on every search). The
shops are reopened afterwards. The 1-minute load average is reported with every figure.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.db import make_engine
from bench import http_load
from bench.bench_volume import ROOT, build_requests
from bench.generate import KEYS, OEM_PASSWORD
from bench.network_common import RESULTS

HOSTS = 2
APP_PORT = 8000
MIX = ("scan JSON", "scan HTML", "unknown serial", "bad tag")
FRESHNESS_TRIALS = 10


def sh(*command: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(command, check=check, capture_output=True, text=True)


def host_address(number: int) -> str:
    return f"10.211.{number}.2"


def relay_address(number: int) -> str:
    return f"10.211.{number}.1"


class Installation:
    """The namespaces, relays, application hosts and nginx; torn down in reverse order whatever happens."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.folder = Path(tempfile.mkdtemp(prefix="mp-scale-out-"))
        self.processes: list[subprocess.Popen] = []
        self.namespaces: list[str] = []
        self.nginx_ports = (http_load.free_port(), http_load.free_port())

    def __enter__(self) -> Installation:
        try:
            for number in range(1, HOSTS + 1):
                self._namespace(number)
            for number in range(1, HOSTS + 1):
                self._host(number)
            self._nginx()
            for number in range(1, HOSTS + 1):
                http_load.wait_for(host_address(number), APP_PORT, 180)
            for port in self.nginx_ports:
                http_load.wait_for("127.0.0.1", port, 30)
        except BaseException:
            self.__exit__()
            raise
        return self

    def _namespace(self, number: int) -> None:
        name, outside, inside = f"mp-app{number}", f"mp-h{number}", f"mp-a{number}"
        sh("ip", "netns", "add", name)
        self.namespaces.append(name)
        sh("ip", "link", "add", outside, "type", "veth", "peer", "name", inside)
        sh("ip", "link", "set", inside, "netns", name)
        sh("ip", "addr", "add", f"{relay_address(number)}/24", "dev", outside)
        sh("ip", "link", "set", outside, "up")
        sh("ip", "netns", "exec", name, "ip", "addr", "add", f"{host_address(number)}/24", "dev", inside)
        sh("ip", "netns", "exec", name, "ip", "link", "set", inside, "up")
        sh("ip", "netns", "exec", name, "ip", "link", "set", "lo", "up")
        server = make_url(self.url)
        relay = f"TCP-LISTEN:{server.port or 5432},bind={relay_address(number)},fork,reuseaddr"
        self._start(["socat", relay, f"TCP:{server.host}:{server.port or 5432}"])

    def _host(self, number: int) -> None:
        database = make_url(self.url).set(host=relay_address(number)).render_as_string(hide_password=False)
        instance = self.folder / f"instance{number}"
        environment = dict(
            os.environ,
            MILEPOST_DATABASE_URL=database,
            MILEPOST_CODE_KEYS=KEYS,
            MILEPOST_SECRET_KEY="bench-only",
            MILEPOST_PUBLIC_BASE_URL="http://127.0.0.1",
            MILEPOST_INSTANCE_PATH=str(instance),
            MILEPOST_PROXY_COUNT="1",
        )
        milepost = str(Path(sys.executable).parent / "milepost")
        command = ["ip", "netns", "exec", f"mp-app{number}", milepost, "serve", "--workers", "2", "--no-worker"]
        self._start([*command, "--bind", f"{host_address(number)}:{APP_PORT}"], environment)

    def _nginx(self) -> None:
        one = f"server {host_address(1)}:{APP_PORT};"
        both = " ".join(f"server {host_address(n)}:{APP_PORT};" for n in range(1, HOSTS + 1))
        configuration = f"""
worker_processes 1;
pid {self.folder}/nginx.pid;
error_log {self.folder}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {self.folder}/body;
    proxy_temp_path {self.folder}/proxy;
    fastcgi_temp_path {self.folder}/fastcgi;
    uwsgi_temp_path {self.folder}/uwsgi;
    scgi_temp_path {self.folder}/scgi;
    upstream one {{ {one} keepalive 16; }}
    upstream both {{ least_conn; {both} keepalive 16; }}
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    server {{ listen 127.0.0.1:{self.nginx_ports[0]}; location / {{ proxy_pass http://one; }} }}
    server {{ listen 127.0.0.1:{self.nginx_ports[1]}; location / {{ proxy_pass http://both; }} }}
}}
"""
        path = self.folder / "nginx.conf"
        path.write_text(configuration)
        self._start(["nginx", "-p", str(self.folder), "-c", str(path), "-g", "daemon off;"])

    def _start(self, command: list[str], environment: dict | None = None) -> None:
        process = subprocess.Popen(
            command,
            env=environment,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=open(self.folder / f"{Path(command[0]).name}-{len(self.processes)}.log", "w"),  # noqa: SIM115
            start_new_session=True,
        )
        self.processes.append(process)

    def __exit__(self, *_exc: object) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in reversed(self.processes):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for number in range(1, HOSTS + 1):
            sh("ip", "link", "del", f"mp-h{number}", check=False)
        for name in reversed(self.namespaces):
            sh("ip", "netns", "del", name, check=False)
        shutil.rmtree(self.folder, ignore_errors=True)


def request(host: str, port: int, method: str, path: str, body: dict | None = None, token: str | None = None):
    connection = http.client.HTTPConnection(host, port, timeout=30)
    headers = {"Accept": "application/json", "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = connection.getresponse()
    payload = response.read()
    connection.close()
    return response.status, json.loads(payload) if payload else None


def throughput(ports: tuple[int, int], mix: list, seconds: float, connections: int) -> dict[str, dict]:
    """The scan mix through nginx to one host and to both, in alternating rounds."""
    runs: dict[str, list] = {"1 host": [[], 0, 0.0, {}], "2 hosts": [[], 0, 0.0, {}]}
    for number in range(http_load.ROUNDS):
        for name, port in zip(runs, ports, strict=True):
            start = number * len(mix) // http_load.ROUNDS
            rotated = mix[start:] + mix[:start]
            latencies, errors, elapsed, statuses = http_load.measure(
                "127.0.0.1", port, rotated, seconds / http_load.ROUNDS, connections
            )
            run = runs[name]
            run[0].extend(latencies)
            run[1] += errors
            run[2] += elapsed
            for status, count in statuses.items():
                run[3][status] = run[3].get(status, 0) + count
    return {name: http_load.summary(*run) for name, run in runs.items()}


def freshness(url: str) -> list[dict]:
    """Close shops through host 1 and time until host 2's nearest search stops returning them; reopen them."""
    engine = make_engine(url)
    with engine.connect() as connection:
        shops = connection.execute(
            text(f"SELECT code, lat, lon FROM shops WHERE status = 'active' ORDER BY id LIMIT {FRESHNESS_TRIALS}")
        ).all()
    engine.dispose()
    one, two = (host_address(1), APP_PORT), (host_address(2), APP_PORT)
    status, answer = request(*one, "POST", "/api/v1/auth/tokens", {"email": "oem@bench.test", "password": OEM_PASSWORD})
    if status != 201:
        raise RuntimeError(f"cannot sign in as the bench OEM: {status} {answer}")
    token = answer["token"]
    trials = []
    try:
        for code, lat, lon in shops:
            search = f"/api/v1/shops?lat={lat:.5f}&lon={lon:.5f}&k=5"

            def listed(search: str = search, code: str = code) -> bool:
                return code in [item["code"] for item in request(*two, "GET", search)[1]["items"]]

            before = listed()
            start = time.perf_counter()
            status, _ = request(*one, "PATCH", f"/api/v1/shops/{code}", {"status": "closed"}, token)
            closed_at = time.perf_counter()
            polls = 0
            while listed():
                polls += 1
                if time.perf_counter() - closed_at > 10:
                    break
            gone = time.perf_counter()
            trials.append(
                {
                    "shop": code,
                    "listed_before": before,
                    "patch_status": status,
                    "patch_ms": round((closed_at - start) * 1000, 1),
                    "gone_after_ms": round((gone - closed_at) * 1000, 1),
                    "searches_still_listing": polls,
                }
            )
    finally:
        for code, _lat, _lon in shops:
            request(*one, "PATCH", f"/api/v1/shops/{code}", {"status": "active"}, token)
    return trials


def main(url: str, seconds: float, connections: int) -> None:
    if os.geteuid() != 0:
        sys.exit("network namespaces need root")
    endpoints, parts = build_requests(url)
    mix = [item for pair in zip(*(endpoints[name] for name in MIX), strict=False) for item in pair]
    with Installation(url) as installation:
        for port in installation.nginx_ports:  # warm every worker of both hosts
            http_load.measure("127.0.0.1", port, mix[-200:], 3, connections)
        with http_load.LoadAverage() as load_throughput:
            results = throughput(installation.nginx_ports, mix, seconds, connections)
        with http_load.LoadAverage(every=1.0) as load_freshness:
            trials = freshness(url)
    print(f"parts in database      {parts:,}")
    print(
        f"set-up                 {HOSTS} network namespaces x milepost serve (2 workers); nginx on 127.0.0.1; "
        f"PostgreSQL via socat relays; {connections} client connections, {seconds:g} s each in "
        f"{http_load.ROUNDS} alternating rounds; machine of {os.cpu_count()} cores"
    )
    print(f"load average (1 min)   {load_throughput.describe()} during the throughput rounds")
    one = results["1 host"]
    for name, result in results.items():
        print(http_load.line(f"scan mix, {name}", result, one))
    print(f"load average (1 min)   {load_freshness.describe()} during the freshness trials")
    gone = [trial["gone_after_ms"] for trial in trials]
    within = sum(trial["gone_after_ms"] < 1000 and trial["listed_before"] for trial in trials)
    print(
        f"freshness              {within} of {len(trials)} closed shops gone from host 2's search within 1 s; "
        f"after {min(gone):.0f}-{max(gone):.0f} ms (searches still listing: "
        f"{sum(trial['searches_still_listing'] for trial in trials)})"
    )
    for trial in trials:
        print(f"                       {trial}")
    RESULTS.mkdir(exist_ok=True)
    figures = {
        "parts": parts,
        "throughput": results,
        "load_average_throughput": load_throughput.samples,
        "freshness": trials,
        "load_average_freshness": load_freshness.samples,
    }
    (RESULTS / "scale_out.json").write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main(
        sys.argv[1],
        float(sys.argv[2]) if len(sys.argv) > 2 else 20.0,
        int(sys.argv[3]) if len(sys.argv) > 3 else 16,
    )
