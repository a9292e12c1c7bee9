"""The minute job works in chunks, each committed: other writers (a sign-in on SQLite) get in between, and a tick
stopped between chunks is carried on by the next one, taking in every touchpoint once."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.config import load_settings
from app.crm.models import Touchpoint
from app.db import make_sessionmaker, utcnow
from app.jobs import execute_job
from leads.models import Lead
from milepost.jobs import load_all_tasks
from tests.chunks import stop_at_commit, watch_commits
from tests.factories import make_customer
from tests.leads.helpers import make_world, touch

pytestmark = pytest.mark.slow
JOB = "leads.advance"


def _touchpoints(sessions, count: int) -> None:
    with sessions() as setup:
        make_world(setup)
        for _ in range(count):
            touch(setup, make_customer(setup), at=utcnow())
        setup.commit()


def _taken_in(sessions) -> int:
    with sessions() as other:
        return other.scalar(select(func.count()).select_from(Touchpoint).where(Touchpoint.processed_at.is_not(None)))


def test_a_tick_commits_every_chunk_of_touchpoints_so_other_writers_get_in_between(committed_engine, monkeypatch):
    import leads.settings as chunking

    sessions = make_sessionmaker(committed_engine)
    _touchpoints(sessions, 5)
    monkeypatch.setattr(chunking, "CHUNK", 2)
    seen_between = watch_commits(monkeypatch, lambda: _taken_in(sessions))  # what each chunk committed
    load_all_tasks()

    run = execute_job(sessions, load_settings(), JOB)

    assert (run.state, run.result["taken_in"]) == ("succeeded", 5)
    assert seen_between[:3] == [2, 4, 5]


def test_a_tick_stopped_between_chunks_is_carried_on_by_the_next_taking_each_touchpoint_once(
    committed_engine, monkeypatch
):
    import leads.settings as chunking

    sessions = make_sessionmaker(committed_engine)
    _touchpoints(sessions, 5)
    monkeypatch.setattr(chunking, "CHUNK", 2)
    restore_commit = stop_at_commit(monkeypatch, 2)
    load_all_tasks()
    stopped = execute_job(sessions, load_settings(), JOB)
    taken_at_stop = _taken_in(sessions)
    restore_commit()

    resumed = execute_job(sessions, load_settings(), JOB)

    with sessions() as check:
        leads = check.scalar(select(func.count()).select_from(Lead))
    assert (stopped.state, taken_at_stop) == ("failed", 4)
    assert (resumed.state, resumed.result["taken_in"]) == ("succeeded", 1)
    assert leads == 5
