"""The job queue behind app.jobs: huey, on a SQLite file by default and on Redis in production.

Why huey: it is small and well kept, runs periodic and delayed tasks, and has a SQLite storage that needs no
set-up (the embedded default) beside a Redis storage for production, where several hosts share one queue;
its lock keeps a periodic job from running twice at once across hosts. Celery and dramatiq need a broker even
on one machine; rq needs Redis; procrastinate needs PostgreSQL. The jobs themselves never see huey: they are
app.jobs functions of a session, so tests run them directly.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager, nullcontext
from datetime import datetime
from pathlib import Path

from flask import Flask
from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey, crontab
from huey.exceptions import TaskLockedException

from app.db import SESSIONMAKER_KEY
from app.jobs import JOBS, QUEUE_KEY, JobSpec, execute_job

log = logging.getLogger(__name__)

# Every domain's job declarations; importing a module registers its jobs.
TASK_MODULES = (
    "milepost.tasks",
    "traceability.tasks",
    "network.tasks",
    "reviews.tasks",
    "knowledge.tasks",
    "service.tasks",
    "community.tasks",
    "leads.tasks",
    "maintenance.tasks",
)
RUN_TASK = "milepost.run_job"
# How long `holding` waits for a periodic run in progress to end before it goes on without the hold.
HOLD_WAIT_SECONDS = 120.0


def load_all_tasks() -> None:
    """Import every domain's tasks module (a missing one is a domain that has no jobs yet)."""
    for name in TASK_MODULES:
        try:
            importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise


class HueyQueue:
    """app.jobs.JobQueue on huey: one task runs any queued run; periodic jobs become huey periodic tasks."""

    def __init__(self, huey: Huey) -> None:
        self.huey = huey
        self.app: Flask | None = None
        self._run = huey.task(name=RUN_TASK)(self._run_queued)

    def bind(self, app: Flask) -> None:
        """Remember the app whose database and settings the worker's jobs use."""
        self.app = app

    def submit(self, run_id: int, name: str, eta: datetime | None) -> None:
        self._run.schedule(args=(run_id, name), eta=eta) if eta else self._run(run_id, name)

    def put_progress(self, run_id: int, done: int, total: int) -> None:
        self.huey.put(f"progress:{run_id}", (done, total))

    def read_progress(self, run_id: int) -> tuple[int, int] | None:
        value = self.huey.get(f"progress:{run_id}", peek=True)
        return tuple(value) if value else None  # type: ignore[return-value]

    @contextmanager
    def holding(self, names: tuple[str, ...]) -> Iterator[None]:
        """Hold the periodic jobs' locks (see _periodic) in this block: their runs meanwhile are skipped."""
        with ExitStack() as stack:
            for name in names:
                lock = self.huey.lock_task(_lock_name(name))
                deadline = time.monotonic() + HOLD_WAIT_SECONDS
                while True:
                    try:
                        stack.enter_context(lock)
                        break
                    except TaskLockedException:
                        if time.monotonic() > deadline:
                            log.warning("%s ran on for %.0f s: going on without holding it", name, HOLD_WAIT_SECONDS)
                            break
                        time.sleep(0.2)
            yield

    def _run_queued(self, run_id: int, name: str) -> None:
        self.execute(name, run_id)

    def execute(self, name: str, run_id: int | None = None) -> None:
        """Run one job in the bound app."""
        app = self.app
        if app is None:
            raise RuntimeError("the job queue is not bound to an app")
        with app.app_context():
            execute_job(
                app.extensions[SESSIONMAKER_KEY], app.config, name, run_id=run_id, queue=self, extras=app.extensions
            )

    def register_periodic(self) -> None:
        """Turn every periodic job into a huey periodic task, locked so that two workers never overlap."""
        for spec in JOBS.values():
            if spec.every is not None:
                self._periodic(spec)

    def _periodic(self, spec: JobSpec) -> None:
        minutes = int(spec.every.total_seconds() // 60)  # type: ignore[union-attr]
        if minutes % 60 == 0:
            schedule = crontab(minute="0", hour="*" if minutes == 60 else f"*/{minutes // 60}")
        else:
            schedule = crontab(minute="*" if minutes == 1 else f"*/{minutes}")
        lock = self.huey.lock_task(_lock_name(spec.name))

        def run_periodic() -> None:
            with lock:
                self.execute(spec.name)

        self.huey.periodic_task(schedule, name=f"periodic:{spec.name}")(run_periodic)


def _lock_name(job_name: str) -> str:
    return f"lock:{job_name}"


class RecordingQueue:
    """The queue of the test suite: it records submissions; tests run them with the test's own session."""

    def __init__(self) -> None:
        self.submitted: list[tuple[int, str, datetime | None]] = []
        self.progress: dict[int, tuple[int, int]] = {}
        self.held: list[tuple[str, ...]] = []

    def submit(self, run_id: int, name: str, eta: datetime | None) -> None:
        self.submitted.append((run_id, name, eta))

    def put_progress(self, run_id: int, done: int, total: int) -> None:
        self.progress[run_id] = (done, total)

    def read_progress(self, run_id: int) -> tuple[int, int] | None:
        return self.progress.get(run_id)

    def holding(self, names: tuple[str, ...]) -> nullcontext:
        self.held.append(names)
        return nullcontext()


def make_queue(settings: dict, instance_path: str) -> HueyQueue | RecordingQueue:
    """Build the queue the settings ask for: JOBS_URL redis://..., else a SQLite file in the instance folder."""
    if settings.get("TESTING") and not settings.get("JOBS_URL"):
        return RecordingQueue()
    url = settings.get("JOBS_URL") or ""
    if url.startswith(("redis://", "rediss://", "unix://")):
        huey: Huey = RedisHuey("milepost", url=url, utc=True)
    elif url == "memory://":
        huey = MemoryHuey("milepost", utc=True)
    else:
        path = url.removeprefix("sqlite:///") if url else str(Path(instance_path) / "jobs.sqlite3")
        huey = SqliteHuey("milepost", filename=path, utc=True)
    return HueyQueue(huey)


def attach_queue(app: Flask) -> None:
    """Give the app (and every session it opens) its job queue."""
    load_all_tasks()
    queue = make_queue(app.config, app.instance_path)
    if isinstance(queue, HueyQueue):
        queue.bind(app)
    app.extensions[QUEUE_KEY] = queue
    app.extensions[SESSIONMAKER_KEY].configure(info={QUEUE_KEY: queue})


def run_worker(app: Flask, workers: int) -> None:
    """Run the job consumer in this process until interrupted (periodic jobs included)."""
    queue = app.extensions[QUEUE_KEY]
    if not isinstance(queue, HueyQueue):
        raise RuntimeError("the test queue cannot be consumed")
    queue.register_periodic()
    log.info("worker: %s jobs, %s periodic", len(JOBS), sum(spec.every is not None for spec in JOBS.values()))
    queue.huey.create_consumer(workers=workers, worker_type="thread", periodic=True, check_worker_health=True).run()
