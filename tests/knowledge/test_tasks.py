"""The knowledge job: telematics faults that stopped being reported become inactive; others stay."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.db import SESSIONMAKER_KEY, utcnow
from app.jobs import execute_job
from app.security import Role
from knowledge.codes import parse_code
from knowledge.faults import record_driver_fault, record_telematics_report
from milepost.jobs import load_all_tasks
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
