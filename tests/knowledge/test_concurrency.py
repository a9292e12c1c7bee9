"""Two platforms report the same new code at once: one fault row, both reports counted (request-style retry)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from app.crm.models import Vehicle
from app.db import make_sessionmaker, run_in_transaction
from app.security import Role, User
from knowledge.codes import parse_code
from knowledge.faults import record_fault
from knowledge.models import VehicleFault
from tests.factories import make_user, make_vehicle
from tests.races import wait_until_blocked

pytestmark = pytest.mark.slow


def test_the_same_new_code_reported_twice_at_once_is_one_row_with_two_reports(committed_engine):
    sessions = make_sessionmaker(committed_engine)
    with sessions() as setup:
        oem_id, vehicle_id = make_user(setup, Role.OEM_ADMIN).id, make_vehicle(setup).id
        setup.commit()
    first_flushed, second_started = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def report(session, hold: bool) -> None:
        # record_fault itself: the telematics report also writes an activity entry, which the committed test
        # database's clean-up cannot delete (the log is append-only).
        actor, vehicle = session.get(User, oem_id), session.get(Vehicle, vehicle_id)
        record_fault(session, actor, vehicle, parse_code("100/1"), "telematics")
        if hold:
            # The first report's row is written but not committed while the second one tries to insert its own.
            first_flushed.set()
            second_started.wait(timeout=10)
            wait_until_blocked(committed_engine)

    def first() -> None:
        try:
            run_in_transaction(sessions, lambda session: report(session, hold=True), retries=0)
        except BaseException as error:  # noqa: BLE001 - asserted below
            errors.append(error)

    def second() -> None:
        first_flushed.wait(timeout=10)
        second_started.set()
        try:
            # The request transaction's retry: on PostgreSQL the insert waits for the first, then violates the
            # unique (vehicle, key) and is run again, finding the row; SQLite's write lock serializes them.
            run_in_transaction(sessions, lambda session: report(session, hold=False), retries=1)
        except BaseException as error:  # noqa: BLE001 - asserted below
            errors.append(error)

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with sessions() as check:
        faults = check.scalars(select(VehicleFault).where(VehicleFault.vehicle_id == vehicle_id)).all()
        assert [(fault.code, fault.reports) for fault in faults] == [("100", 2)]
