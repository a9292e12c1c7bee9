"""Jobs: declared once, run in their own transaction, recorded for the OEM, handed over only after commit."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.db import SESSIONMAKER_KEY, utcnow
from app.jobs import JOBS, QUEUE_KEY, JobContext, JobRun, enqueue, execute_job, job, list_job_status
from app.security import Attempt
from milepost.jobs import HueyQueue, make_queue


def count_attempts(context: JobContext) -> dict:
    """Count attempt rows (a probe job of the tests)."""
    context.progress(1, 2)
    total = context.session.scalar(select(func.count()).select_from(Attempt))
    context.session.add(Attempt(bucket="job", key=str(context.payload.get("tag", ""))))
    return {"attempts": total}


def fails(context: JobContext) -> dict:
    """Fail after writing (a probe job of the tests)."""
    context.session.add(Attempt(bucket="job", key="from-a-failed-run"))
    context.session.flush()
    raise RuntimeError("the disk is full")


@pytest.fixture(autouse=True)
def probe_jobs():
    """Declare the probe jobs for this module's tests only: other tests see the application's jobs alone."""
    job("test.count_attempts")(count_attempts)
    job("test.fails")(fails)
    yield
    JOBS.pop("test.count_attempts", None)
    JOBS.pop("test.fails", None)


@pytest.fixture
def make_session(app):
    return app.extensions[SESSIONMAKER_KEY]


def test_enqueued_run_reaches_the_worker_only_after_commit(app, make_session):
    queue = app.extensions[QUEUE_KEY]
    with make_session() as session:
        enqueue(session, "test.count_attempts", {"tag": "rolled-back"})
        session.rollback()
    with make_session() as session:
        run = enqueue(session, "test.count_attempts", {"tag": "kept"})
        assert queue.submitted == []
        session.commit()

    assert [(run_id, name) for run_id, name, _eta in queue.submitted] == [(run.id, "test.count_attempts")]


def test_queued_run_records_its_result_progress_and_duration(app, make_session, session):
    with make_session() as writer:
        run_id = enqueue(writer, "test.count_attempts", {"tag": "payload-seen"}).id
        writer.commit()

    run = execute_job(make_session, app.config, "test.count_attempts", run_id=run_id, queue=app.extensions[QUEUE_KEY])

    assert run.state == "succeeded"
    assert run.duration_ms is not None and run.started_at is not None and run.finished_at is not None
    assert "attempts" in run.result
    assert app.extensions[QUEUE_KEY].read_progress(run_id) == (1, 2)
    assert session.scalar(select(Attempt.key).where(Attempt.bucket == "job")) == "payload-seen"


def test_failed_run_is_recorded_and_its_writes_are_rolled_back(app, make_session, session):
    run = execute_job(make_session, app.config, "test.fails")

    assert run.state == "failed"
    assert "the disk is full" in run.error
    assert session.scalar(select(func.count()).select_from(Attempt).where(Attempt.bucket == "job")) == 0


def test_job_status_shows_last_run_and_failures_of_every_job(app, make_session, session):
    execute_job(make_session, app.config, "test.fails")
    execute_job(make_session, app.config, "test.count_attempts")

    status = {item["name"]: item for item in list_job_status(session, utcnow())}

    assert status["test.fails"]["last_failure"]["error"] == "RuntimeError: the disk is full"
    assert status["test.fails"]["failures_24h"] == 1
    assert status["test.count_attempts"]["last_run"]["state"] == "succeeded"
    assert status["core.prune_attempts"]["every_minutes"] == 60


def test_prune_attempts_deletes_only_counters_past_every_window(app, make_session, session):
    session.add_all(
        [
            Attempt(bucket="login", key="old", occurred_at=utcnow() - timedelta(days=3)),
            Attempt(bucket="login", key="recent", occurred_at=utcnow() - timedelta(minutes=5)),
        ]
    )
    session.flush()

    run = execute_job(make_session, app.config, "core.prune_attempts")

    assert run.result == {"deleted": 1}
    assert session.scalars(select(Attempt.key).where(Attempt.bucket == "login")).all() == ["recent"]


def test_huey_queue_runs_a_submitted_run_in_the_bound_app(app, make_session, session):
    queue = make_queue({"JOBS_URL": "memory://"}, app.instance_path)
    assert isinstance(queue, HueyQueue)
    queue.bind(app)
    with make_session() as writer:
        writer.info[QUEUE_KEY] = queue
        run_id = enqueue(writer, "test.count_attempts", {"tag": "through-huey"}).id
        writer.commit()

    task = queue.huey.dequeue()
    queue.huey.execute(task)

    assert session.get(JobRun, run_id).state == "succeeded"


def test_periods_are_whole_minutes():
    with pytest.raises(ValueError):
        job("test.too_often", every=timedelta(seconds=30))
    assert "test.too_often" not in JOBS


def test_a_writer_waiting_for_sqlites_lock_gets_in_between_a_jobs_chunks(committed_engine):
    """A chunked job commits and pauses: a sign-in waiting for the write lock gets it at the next chunk's end, not
    after the whole run (without the pause the job took the lock back first, chunk after chunk)."""
    import threading
    import time

    from sqlalchemy import text

    from app.db import make_sessionmaker

    if committed_engine.dialect.name != "sqlite":
        pytest.skip("SQLite's one writer at a time")
    sessions = make_sessionmaker(committed_engine)
    started, done = threading.Event(), threading.Event()

    def chunked_job() -> None:
        with sessions() as session:
            context = JobContext(session, {}, utcnow())
            for number in range(8):
                session.add(Attempt(bucket="job", key=f"chunk-{number}"))
                session.flush()
                started.set()
                time.sleep(0.25)  # a chunk's work, holding the lock
                context.commit()
        done.set()

    worker = threading.Thread(target=chunked_job)
    worker.start()
    started.wait(5)
    waited = time.monotonic()
    with committed_engine.connect() as other:
        other.connection.driver_connection.execute("PRAGMA busy_timeout = 1000")  # a chunk is 0.25 s
        with other.begin():
            other.execute(text("INSERT INTO attempts (bucket, key, occurred_at) VALUES ('login', 'x', '2026-01-01')"))
    waited = time.monotonic() - waited
    got_in_before_the_end = not done.is_set()
    worker.join(10)

    assert got_in_before_the_end and waited < 1


def test_a_held_periodic_job_is_skipped_and_runs_again_after(app):
    """The demo build holds the leads' minute tick while it plays months of leads history: a tick in between would
    act on the half-built history at the real time (dispatch and return leads the story follows up later)."""
    from huey.exceptions import TaskLockedException

    queue = make_queue({"JOBS_URL": "memory://"}, app.instance_path)
    tick_lock = queue.huey.lock_task("lock:leads.advance")  # what the periodic run takes (HueyQueue._periodic)

    with queue.holding(("leads.advance",)), pytest.raises(TaskLockedException), tick_lock:
        pass
    with tick_lock:  # released: the next tick runs
        pass


def test_holding_waits_for_a_periodic_run_in_progress(app, monkeypatch):
    import threading
    import time

    queue = make_queue({"JOBS_URL": "memory://"}, app.instance_path)
    tick_lock = queue.huey.lock_task("lock:leads.advance")
    ended = []

    def tick() -> None:
        with tick_lock:
            time.sleep(0.6)
            ended.append(time.monotonic())

    running = threading.Thread(target=tick)
    running.start()
    time.sleep(0.1)
    with queue.holding(("leads.advance",)):
        held_at = time.monotonic()
    running.join()

    assert ended and held_at >= ended[0]
