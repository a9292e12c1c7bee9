"""Jobs: timed and heavy work declared by each domain's `tasks.py` and run by `milepost worker`.

A domain declares a job with `@job("network.assistance_rounds", every=timedelta(minutes=1))` (periodic) or
`@job("reviews.evaluate_certification")` (on demand). The function takes a `JobContext` and returns a small
JSON-able summary. It runs in one transaction (app.db.run_in_transaction: committed once, a lost race
retried once), except that a job writing many rows commits each bounded chunk (`context.commit()`, see there) and a
long computation reads outside the write lock (`context.reading()`); every run is a `JobRun` row, so the OEM sees
the last run, its duration and failures.

Domain code asks for on-demand work with `enqueue(session, name, payload, actor=...)`: the run is written in
the caller's transaction and handed to the queue only after that transaction commits, so the worker never
sees a run (or data) that was rolled back. The queue itself (huey, on SQLite or Redis) is the shell's
business (milepost/jobs.py); this module only knows the `JobQueue` interface.
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from sqlalchemy import JSON, ForeignKey, String, Text, delete, event, func, or_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from app.db import Base, commit_checkpoint, reading_only, run_in_transaction, utcnow, work_label
from app.errors import InvalidInput, MilepostError, NotFound

log = logging.getLogger(__name__)

# How long a chunked job leaves SQLite's write lock free after each chunk's commit (JobContext.commit).
CHUNK_PAUSE_SECONDS = 0.15
QUEUE_KEY = "milepost.job_queue"  # where a session (session.info) and the app (app.extensions) keep the queue


class JobState(StrEnum):
    """Where a job run is."""

    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class JobTrigger(StrEnum):
    """Why a job ran."""

    PERIODIC = "periodic"
    ON_DEMAND = "on_demand"
    SCHEDULED = "scheduled"


class JobRun(Base):
    """One run of a job: when, how long, how far it got, what it found or why it failed."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), index=True)
    trigger: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), index=True)
    payload: Mapped[dict] = mapped_column(JSON, default=dict)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    queued_at: Mapped[datetime] = mapped_column(default=utcnow)
    run_at: Mapped[datetime | None]
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    duration_ms: Mapped[int | None]
    progress_done: Mapped[int] = mapped_column(default=0)
    progress_total: Mapped[int] = mapped_column(default=0)
    result: Mapped[dict] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")


class JobQueue(Protocol):
    """What the shell's queue does for this module."""

    def submit(self, run_id: int, name: str, eta: datetime | None) -> None:
        """Hand a committed run to the worker (at `eta`, or now)."""

    def put_progress(self, run_id: int, done: int, total: int) -> None:
        """Publish a running job's progress outside its transaction."""

    def read_progress(self, run_id: int) -> tuple[int, int] | None:
        """Return a running job's last published progress."""

    def holding(self, names: tuple[str, ...]) -> AbstractContextManager[None]:
        """Keep the periodic jobs `names` from running in this block (the lock that keeps one from overlapping
        itself), waiting for a run in progress to end first."""


@dataclass
class JobContext:
    """What a job function gets: its session, the settings, the clock, its payload, a progress reporter."""

    session: Session
    settings: Mapping[str, Any]
    now: datetime
    payload: dict = field(default_factory=dict)
    run_id: int | None = None
    report: Callable[[int, int], None] = lambda done, total: None
    extras: Mapping[str, Any] = field(default_factory=dict)

    def progress(self, done: int, total: int) -> None:
        """Tell whoever watches this run how far it got."""
        self.report(done, total)

    def commit(self) -> None:
        """Commit the run's work so far: the end of one chunk of a job that writes many rows.

        SQLite has one writer at a time, and a sign-in waits for it at most the busy timeout (30 s): a job that may
        write for longer works in bounded chunks and commits after each. Only for jobs whose every chunk leaves
        consistent data on its own and whose next run (or a retry) carries on where an interrupted one stopped.

        On SQLite it then pauses a moment: a waiting writer polls the lock (sleeping up to 100 ms between tries), and a
        job that began its next chunk at once would take the lock again first, chunk after chunk, until the waiter's
        busy timeout ran out (measured: a sign-in's 503 and the demo build failed so during the reminder round)."""
        commit_checkpoint(self.session)
        if self.session.get_bind().dialect.name == "sqlite":
            time.sleep(CHUNK_PAUSE_SECONDS)

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Read in this block without taking SQLite's write lock (a long computation before a short write); the
        block's transaction ends with it, so the writes after it begin a transaction of their own."""
        with reading_only():
            try:
                yield
            finally:
                commit_checkpoint(self.session)


@dataclass(frozen=True)
class JobSpec:
    """A declared job."""

    name: str
    function: Callable[[JobContext], dict | None]
    every: timedelta | None
    summary: str


JOBS: dict[str, JobSpec] = {}


def job(name: str, *, every: timedelta | None = None) -> Callable:
    """Declare a job; `every` makes it periodic (whole minutes, the queue's clock), else it runs on demand."""
    if every is not None and (every < timedelta(minutes=1) or every.total_seconds() % 60):
        raise ValueError(f"{name}: periods are whole minutes")

    def register(function: Callable[[JobContext], dict | None]) -> Callable[[JobContext], dict | None]:
        summary = (function.__doc__ or name).strip().splitlines()[0]
        JOBS[name] = JobSpec(name, function, every, summary)
        return function

    return register


def find_job(name: str) -> JobSpec:
    """Return the declared job called `name`."""
    spec = JOBS.get(name)
    if spec is None:
        raise InvalidInput(f"no job called {name!r}", field="name")
    return spec


def enqueue(
    session: Session,
    name: str,
    payload: dict | None = None,
    *,
    actor_id: int | None = None,
    eta: datetime | None = None,
) -> JobRun:
    """Write a queued run of job `name` and hand it to the worker once this transaction commits."""
    find_job(name)
    run = JobRun(
        name=name,
        trigger=JobTrigger.SCHEDULED if eta else JobTrigger.ON_DEMAND,
        state=JobState.QUEUED,
        payload=payload or {},
        requested_by_id=actor_id,
        run_at=eta,
    )
    session.add(run)
    session.flush()
    queue: JobQueue | None = session.info.get(QUEUE_KEY)
    if queue is None:
        raise RuntimeError("this session has no job queue (create it through the app's session factory)")
    run_id = run.id

    @event.listens_for(session, "after_commit", once=True)
    def _submit(_session: Session) -> None:
        queue.submit(run_id, name, eta)

    return run


def _finish(make_session: Callable[[], Session], run_id: int, **values: Any) -> None:
    def write(session: Session) -> None:
        run = session.get(JobRun, run_id)
        if run is not None:
            for key, value in values.items():
                setattr(run, key, value)

    run_in_transaction(make_session, write)


def execute_job(
    make_session: Callable[[], Session],
    settings: Mapping[str, Any],
    name: str,
    *,
    run_id: int | None = None,
    queue: JobQueue | None = None,
    extras: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> JobRun:
    """Run job `name` once (a queued run `run_id`, or a new periodic run) and record how it went."""
    spec = find_job(name)
    started = utcnow()

    def start(session: Session) -> tuple[int, dict]:
        if run_id is None:
            run = JobRun(name=name, trigger=JobTrigger.PERIODIC, state=JobState.RUNNING, payload={})
            session.add(run)
        else:
            run = session.get(JobRun, run_id)
            if run is None:
                raise NotFound(f"no job run {run_id}")
            run.state = JobState.RUNNING
        run.started_at = started
        session.flush()
        return run.id, dict(run.payload or {})

    current_id, payload = run_in_transaction(make_session, start)
    clock = time.monotonic()

    def report(done: int, total: int) -> None:
        if queue is not None:
            queue.put_progress(current_id, done, total)

    def work(session: Session) -> dict:
        context = JobContext(session, settings, now or utcnow(), payload, current_id, report, extras or {})
        return spec.function(context) or {}

    try:
        with work_label(f"job {name} (run {current_id})"):
            result = run_in_transaction(make_session, work)
    except Exception as error:  # noqa: BLE001 - a failed job is recorded for the OEM, whatever failed
        message = error.message if isinstance(error, MilepostError) else "".join(traceback.format_exception(error))
        log.exception("job %s (run %s) failed", name, current_id)
        _finish(
            make_session,
            current_id,
            state=JobState.FAILED,
            finished_at=utcnow(),
            duration_ms=int((time.monotonic() - clock) * 1000),
            error=message[-4000:],
        )
    else:
        done_total = result.pop("_progress", None)
        values: dict[str, Any] = {}
        if done_total:
            values = {"progress_done": done_total[0], "progress_total": done_total[1]}
        _finish(
            make_session,
            current_id,
            state=JobState.SUCCEEDED,
            finished_at=utcnow(),
            duration_ms=int((time.monotonic() - clock) * 1000),
            result=result,
            **values,
        )
    with make_session() as session:
        run = session.get(JobRun, current_id)
        assert run is not None
        session.expunge(run)
        return run


def get_run(session: Session, run_id: int) -> JobRun:
    """Return job run `run_id`."""
    run = session.get(JobRun, run_id)
    if run is None:
        raise NotFound(f"no job run {run_id}")
    return run


def run_to_dict(run: JobRun, queue: JobQueue | None = None) -> dict:
    """Return a run as the API shows it; a running job's progress comes live from the queue."""
    done, total = run.progress_done, run.progress_total
    if run.state == JobState.RUNNING and queue is not None:
        done, total = queue.read_progress(run.id) or (done, total)
    return {
        "id": run.id,
        "name": run.name,
        "trigger": run.trigger,
        "state": run.state,
        "queued_at": run.queued_at.isoformat() if run.queued_at else None,
        "started_at": run.started_at.isoformat() if run.started_at else None,
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "duration_ms": run.duration_ms,
        "progress": {"done": done, "total": total},
        "result": run.result or {},
        "error": run.error.splitlines()[-1] if run.error else None,
    }


def list_job_status(session: Session, now: datetime) -> list[dict]:
    """Return every declared job with its last run, last failure and the day's counts."""
    since = now - timedelta(days=1)
    last_ids = dict(session.execute(select(JobRun.name, func.max(JobRun.id)).group_by(JobRun.name)).all())
    failed_ids = dict(
        session.execute(
            select(JobRun.name, func.max(JobRun.id)).where(JobRun.state == JobState.FAILED).group_by(JobRun.name)
        ).all()
    )
    counts: dict[tuple[str, str], int] = {
        (name, state): count
        for name, state, count in session.execute(
            select(JobRun.name, JobRun.state, func.count())
            .where(JobRun.queued_at >= since)
            .group_by(JobRun.name, JobRun.state)
        )
    }
    wanted = [run_id for run_id in [*last_ids.values(), *failed_ids.values()] if run_id is not None]
    runs = {run.id: run for run in session.scalars(select(JobRun).where(JobRun.id.in_(wanted)))} if wanted else {}
    status = []
    for spec in sorted(JOBS.values(), key=lambda spec: spec.name):
        last = runs.get(last_ids.get(spec.name))
        failure = runs.get(failed_ids.get(spec.name))
        status.append(
            {
                "name": spec.name,
                "summary": spec.summary,
                "every_minutes": int(spec.every.total_seconds() // 60) if spec.every else None,
                "last_run": run_to_dict(last) if last else None,
                "last_failure": run_to_dict(failure) if failure else None,
                "runs_24h": sum(count for (name, _state), count in counts.items() if name == spec.name),
                "failures_24h": counts.get((spec.name, JobState.FAILED.value), 0),
            }
        )
    return status


def prune_job_runs(session: Session, now: datetime, keep_days: int = 14, keep_failures_days: int = 90) -> int:
    """Delete finished runs older than `keep_days` (failures after `keep_failures_days`); return how many."""
    result = session.execute(
        delete(JobRun).where(
            JobRun.state.in_([JobState.SUCCEEDED, JobState.FAILED]),
            or_(
                (JobRun.state == JobState.SUCCEEDED) & (JobRun.queued_at < now - timedelta(days=keep_days)),
                JobRun.queued_at < now - timedelta(days=keep_failures_days),
            ),
        )
    )
    return result.rowcount or 0
