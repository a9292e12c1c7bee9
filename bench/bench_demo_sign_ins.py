"""Sign-ins while the first `milepost serve --demo` builds the demo in its worker, and just after (issue 13 item 8).

    python -m bench.bench_demo_sign_ins [--root CODE_DIR] [--threads 2] [--out result.json]

A fresh instance folder in a temporary directory, a real `milepost serve --demo` (gunicorn and its job worker, as
README's first command) on a free port. Measured: the time to the first 200 of /healthz and of the sign-in page;
then sign-ins as the demo roles (the sign-in form, as a person does it: GET /login, POST /login) from `--threads`
clients, each pausing `--pause` seconds between sign-ins, until the worker's `core.build_demo` run has finished; then
every periodic job that runs hourly or less often (`milepost jobs run NAME`, one after the other, in a process of its
own on the same database) while the sign-ins go on. Each sign-in's status and latency is kept; a 503 is SQLite's
busy timeout (30 s) run out. The SQLite write transactions that held the lock more than app.db.SLOW_WRITE_SECONDS
are read from the log (server, worker and job processes) with what held them, and every slow or failed sign-in is
matched with the ones it overlapped. `--root` runs another checkout's code (PYTHONPATH), so base and branch can be
measured alternately with the same script. The 1-minute load average is sampled every 10 seconds.
"""

from __future__ import annotations

import argparse
import http.cookiejar
import json
import os
import re
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

LOGINS = (
    "oem@milepost.demo",
    "shop@milepost.demo",
    "13800138000",
    "dealer@milepost.demo",
    "warehouse@milepost.demo",
    "sales1@milepost.demo",
    "desk1@milepost.demo",
)
PASSWORD = "milepost-demo"
LOCK_LINE = re.compile(r"SQLite write lock held ([\d.]+) s by (.+) \(after waiting ([\d.]+) s for it\)")
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
AFTER_JOBS = (
    "maintenance.send_reminders",
    "knowledge.expire_stale_faults",
    "core.prune_attempts",
    "traceability.refresh_sale_price_ranges",
    "network.refresh_coverage",
    "core.prune_job_runs",
    "core.touchpoint_retention",
    "traceability.create_partitions",
)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Run:
    def __init__(self, root: Path, threads: int, pause: float) -> None:
        self.root, self.threads, self.pause = root, threads, pause
        self.folder = Path(tempfile.mkdtemp(prefix="demo503-bench-"))
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.start = time.monotonic()
        self.sign_ins: list[dict] = []
        self.holds: list[dict] = []
        self.loads: list[tuple[float, float]] = []
        self.phase = "build"
        self.stop = threading.Event()
        self.env = dict(
            os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=str(root), MILEPOST_INSTANCE_PATH=str(self.folder / "instance")
        )
        self.env.pop("MILEPOST_DATABASE_URL", None)

    def now(self) -> float:
        return time.monotonic() - self.start

    def read_log(self, stream, source: str) -> None:
        with (self.folder / f"{source}.log").open("w") as copy:
            for line in iter(stream.readline, ""):
                copy.write(line)
                match = LOCK_LINE.search(line)
                if match:
                    held, label, waited = float(match[1]), match[2], float(match[3])
                    end = self.now()
                    self.holds.append({"label": label, "held": held, "waited": waited, "end": end, "start": end - held})

    def spawn(self, *arguments: str, source: str) -> subprocess.Popen:
        command = [sys.executable, "-c", "from milepost.cli import main; main()", *arguments]
        process = subprocess.Popen(
            command, cwd=self.folder, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        threading.Thread(target=self.read_log, args=(process.stdout, source), daemon=True).start()
        return process

    def wait_for(self, path: str) -> float:
        while True:
            try:
                with urllib.request.urlopen(self.base + path, timeout=5) as answer:
                    if answer.status == 200:
                        return self.now()
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.1)

    def sign_in_once(self, login: str) -> None:
        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), NoRedirect)
        with opener.open(self.base + "/login", timeout=60) as answer:
            token = CSRF.search(answer.read().decode())[1]
        body = urllib.parse.urlencode({"csrf_token": token, "login": login, "password": PASSWORD}).encode()
        started = self.now()
        try:
            with opener.open(self.base + "/login", data=body, timeout=60) as answer:
                status = answer.status
        except urllib.error.HTTPError as error:
            status = error.code
        self.sign_ins.append(
            {"login": login, "start": started, "seconds": self.now() - started, "status": status, "phase": self.phase}
        )

    def sign_in_loop(self, number: int) -> None:
        turn = number
        while not self.stop.is_set():
            try:
                self.sign_in_once(LOGINS[turn % len(LOGINS)])
            except (urllib.error.URLError, ConnectionError, TimeoutError, TypeError) as error:
                self.sign_ins.append(
                    {"login": "?", "start": self.now(), "seconds": 0, "status": repr(error), "phase": self.phase}
                )
            turn += 1
            time.sleep(self.pause)

    def sample_load(self) -> None:
        while not self.stop.is_set():
            self.loads.append((self.now(), os.getloadavg()[0]))
            self.stop.wait(10)

    def build_state(self) -> tuple[str | None, dict]:
        database = self.folder / "instance" / "milepost.sqlite3"
        try:
            connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=1)
            try:
                row = connection.execute(
                    "SELECT state, result FROM job_runs WHERE name = 'core.build_demo' ORDER BY id DESC LIMIT 1"
                ).fetchone()
            finally:
                connection.close()
        except sqlite3.Error:
            return None, {}
        return (row[0], json.loads(row[1] or "{}")) if row else (None, {})

    def measure(self) -> dict:
        server = self.spawn("serve", "--demo", "--bind", f"127.0.0.1:{self.port}", source="serve")
        threading.Thread(target=self.sample_load, daemon=True).start()
        try:
            healthz = self.wait_for("/healthz")
            login_page = self.wait_for("/login")
            clients = [threading.Thread(target=self.sign_in_loop, args=(n,), daemon=True) for n in range(self.threads)]
            for client in clients:
                client.start()
            while True:
                state, result = self.build_state()
                if state in ("succeeded", "failed"):
                    break
                time.sleep(2)
            built = self.now()
            self.phase = "jobs"
            for name in AFTER_JOBS:
                self.spawn("jobs", "run", name, source=f"job-{name}").wait()
            time.sleep(5)
            self.stop.set()
            for client in clients:
                client.join(70)
        finally:
            self.stop.set()
            server.send_signal(signal.SIGINT)
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
        return {
            "root": str(self.root),
            "folder": str(self.folder),
            "first_healthz_s": round(healthz, 1),
            "first_login_page_s": round(login_page, 1),
            "build": {"state": state, "done_at_s": round(built, 1), "steps_s": result.get("seconds")},
            "load": [load for _at, load in self.loads],
            "sign_ins": self.sign_ins,
            "holds": self.holds,
        }


def summarize(run: dict) -> list[str]:
    lines = [
        f"{run['root']}: /healthz {run['first_healthz_s']} s, /login {run['first_login_page_s']} s, "
        f"build {run['build']['state']} at {run['build']['done_at_s']} s; load average "
        f"{min(run['load']):.1f}-{max(run['load']):.1f} (mean {statistics.mean(run['load']):.1f})",
        f"  steps: {run['build']['steps_s']}",
    ]
    for phase in ("build", "jobs"):
        rows = [row for row in run["sign_ins"] if row["phase"] == phase]
        ok = sorted(row["seconds"] for row in rows if row["status"] == 302)
        failed = [row for row in rows if row["status"] != 302]
        if not rows:
            continue
        quantiles = statistics.quantiles(ok, n=10) if len(ok) > 1 else [0] * 9
        lines.append(
            f"  {phase}: {len(rows)} sign-ins, {sum(row['status'] == 503 for row in rows)} x 503, "
            f"{len(failed)} not signed in; p50 {statistics.median(ok) if ok else 0:.2f} s, p90 {quantiles[8]:.2f} s, "
            f"max {max(ok, default=0):.2f} s"
        )
    lines.append("  write locks held > 2 s: " + "; ".join(f"{h['label']} {h['held']:.1f} s" for h in run["holds"]))
    for row in run["sign_ins"]:
        if row["status"] != 302 or row["seconds"] > 2:
            end = row["start"] + row["seconds"]
            blockers = [h["label"] for h in run["holds"] if h["start"] < end and h["end"] > row["start"]]
            lines.append(
                f"  sign-in at {row['start']:.0f} s: {row['status']} after {row['seconds']:.1f} s; "
                f"overlapping holds: {', '.join(blockers) or 'none logged'}"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(Path(__file__).resolve().parents[1]))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--pause", type=float, default=3.0, help="seconds each client waits between sign-ins")
    parser.add_argument("--out", default="")
    arguments = parser.parse_args()
    run = Run(Path(arguments.root).resolve(), arguments.threads, arguments.pause).measure()
    if arguments.out:
        Path(arguments.out).write_text(json.dumps(run, indent=1))
    print("\n".join(summarize(run)))


if __name__ == "__main__":
    main()
