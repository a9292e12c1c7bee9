"""The knowledge job: telematics faults that stopped being reported become inactive; others stay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.config import load_settings
from app.crm.models import ActivityEntry
from app.db import SESSIONMAKER_KEY, make_sessionmaker, utcnow
from app.jobs import execute_job
from app.security import Role
from knowledge.codes import parse_code
from knowledge.faults import record_driver_fault, record_telematics_report
from knowledge.models import VehicleFault
from milepost.jobs import load_all_tasks
from tests.chunks import stop_at_commit, watch_commits
from tests.factories import make_driver, make_user, make_vehicle


@pytest.fixture
def make_session(app):
    load_all_tasks()
    return app.extensions[SESSIONMAKER_KEY]


def test_expire_job_makes_week_old_telematics_faults_inactive(app, make_session, session):
    oem = make_user(session, Role.OEM_ADMIN)
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    (old,), _ = record_telematics_report(
        session, oem, vehicle, [parse_code("100/1")], seen_at=utcnow() - timedelta(days=8)
    )
    (fresh,), _ = record_telematics_report(session, oem, vehicle, [parse_code("3251/0")])
    by_driver = record_driver_fault(session, user, vehicle, parse_code("1761/1"))
    by_driver.last_seen_at = utcnow() - timedelta(days=30)
    session.flush()

    run = execute_job(make_session, app.config, "knowledge.expire_stale_faults")

    assert run.result == {"made_inactive": 1}
    for fault in (old, fresh, by_driver):
        session.refresh(fault)
    assert (old.active, fresh.active, by_driver.active) == (False, True, True)


def _stale_faults(sessions, count: int) -> None:
    with sessions() as setup:
        oem = make_user(setup, Role.OEM_ADMIN)
        _user, customer = make_driver(setup)
        vehicle = make_vehicle(setup, owner=customer)
        codes = [parse_code(f"{100 + number}/1") for number in range(count)]
        record_telematics_report(setup, oem, vehicle, codes, seen_at=utcnow() - timedelta(days=8))
        setup.commit()


def _active(sessions) -> int:
    with sessions() as other:
        return other.scalar(select(func.count()).select_from(VehicleFault).where(VehicleFault.active.is_(True)))


def test_expiry_commits_every_chunk_so_other_writers_get_in_between(committed_engine, monkeypatch):
    import knowledge.faults as faults

    sessions = make_sessionmaker(committed_engine)
    _stale_faults(sessions, 5)
    monkeypatch.setattr(faults, "EXPIRE_CHUNK", 2)
    seen_between = watch_commits(monkeypatch, lambda: _active(sessions))
    load_all_tasks()

    run = execute_job(sessions, load_settings(), "knowledge.expire_stale_faults")

    assert (run.state, run.result) == ("succeeded", {"made_inactive": 5})
    assert seen_between == [3, 1, 0]  # another connection sees each chunk of 2 as it is committed
    with sessions() as check:
        logged = check.scalars(select(ActivityEntry).where(ActivityEntry.action == "knowledge.stale_faults_expired"))
        assert sorted(entry.details["count"] for entry in logged) == [1, 2, 2]


def test_expiry_stopped_between_chunks_is_finished_by_the_next_run(committed_engine, monkeypatch):
    import knowledge.faults as faults

    sessions = make_sessionmaker(committed_engine)
    _stale_faults(sessions, 5)
    monkeypatch.setattr(faults, "EXPIRE_CHUNK", 2)
    restore_commit = stop_at_commit(monkeypatch, 1)
    load_all_tasks()
    stopped = execute_job(sessions, load_settings(), "knowledge.expire_stale_faults")
    left_at_stop = _active(sessions)
    restore_commit()

    resumed = execute_job(sessions, load_settings(), "knowledge.expire_stale_faults")
    again = execute_job(sessions, load_settings(), "knowledge.expire_stale_faults")

    assert (stopped.state, left_at_stop) == ("failed", 3)
    assert (resumed.result, again.result, _active(sessions)) == ({"made_inactive": 3}, {"made_inactive": 0}, 0)
