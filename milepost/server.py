"""Running Milepost under gunicorn from the `milepost serve` command."""

from __future__ import annotations

import subprocess
import sys

from gunicorn.app.base import BaseApplication


class MilepostServer(BaseApplication):
    """A gunicorn application that builds Milepost in each worker."""

    def __init__(self, options: dict) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from milepost.factory import create_app

        # Every database use in a web worker is a request, which runs again on a fresh connection if the server
        # closed its pooled one: no pre-ping round trip per request.
        return create_app(pre_ping=False)


# gunicorn's Tornado worker reads each request (headers and body) without blocking before the app sees it, and
# writes answers out the same way: a client that sends its request a byte at a time (slowloris, or a truck's
# phone on a weak signal) holds a socket, not a worker. The sync and gthread workers read in the worker, so a
# few hundred slow connections stop the service (bench/slowloris.py measures both). Production still puts a
# buffering proxy in front (README, deployment).
WORKER_CLASS = "tornado"


def gunicorn_options(bind: str, workers: int, certfile: str | None = None, keyfile: str | None = None) -> dict:
    """Return the gunicorn settings `milepost serve` runs with."""
    options: dict = {"bind": bind, "workers": workers, "accesslog": "-", "timeout": 60, "worker_class": WORKER_CLASS}
    if certfile and keyfile:
        options.update(certfile=certfile, keyfile=keyfile)
    return options


def run_gunicorn(bind: str, workers: int, certfile: str | None = None, keyfile: str | None = None) -> None:
    """Serve until interrupted (https when given a certificate and its key)."""
    MilepostServer(gunicorn_options(bind, workers, certfile, keyfile)).run()


def _die_with_parent() -> None:
    # Linux: the worker gets SIGTERM when `milepost serve` dies, even by kill -9, so no worker is left behind.
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def start_worker_process() -> subprocess.Popen:
    """Start `milepost worker` beside the server, in the same environment."""
    command = [sys.executable, "-c", "from milepost.cli import main; main()", "worker"]
    return subprocess.Popen(command, preexec_fn=_die_with_parent)  # noqa: PLW1509 - only sets the death signal


def stop_process(process: subprocess.Popen, grace: float = 10) -> None:
    """Stop a helper process: SIGTERM, then SIGKILL after `grace` seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
