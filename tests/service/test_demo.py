"""The service demo: queues with agents, requests in every state across queues, some near breach."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.db import make_engine
from service.clocks import ClockStatus, clock_status
from service.models import RequestStatus, ServiceRequest, SlaClock
from service.sla import request_calendar
from tests.service.factories import settings


@pytest.fixture
def demo_session(demo_database):
    """A read-only session on the test run's shared demo database (built once per process)."""
    engine = make_engine(demo_database.url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def test_demo_has_requests_in_every_state_across_queues_and_some_near_breach(demo_session, demo_database):
    session = demo_session
    notes = [" ".join(line for line in demo_database.lines if line.strip().startswith("Service:"))]

    statuses = set(session.scalars(select(ServiceRequest.status).distinct()))
    assert statuses >= set(RequestStatus) - {RequestStatus.MERGED, RequestStatus.WAITING_ON_THIRD_PARTY}
    queues = set(session.scalars(select(ServiceRequest.queue_id).distinct()))
    assert len(queues) >= 3
    from app.db import utcnow

    now = utcnow()
    warned = [
        clock
        for clock in session.scalars(select(SlaClock).where(SlaClock.met_at.is_(None)))
        if clock_status(request_calendar(clock.request, settings()), clock, now) == ClockStatus.WARNING
    ]
    assert session.scalar(select(func.count()).select_from(ServiceRequest)) >= 16
    assert warned or any(c.warned_at for c in session.scalars(select(SlaClock)))
    assert "requests" in notes[0]
    assert any("desk1@milepost.demo" in line for line in demo_database.lines)  # the agents' login, printed
