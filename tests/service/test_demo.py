"""The service demo: queues with agents, requests in every state across queues, some near breach."""

from __future__ import annotations

import random

from sqlalchemy import func, select

from milepost.demo import seed_core
from network import demo as network_demo
from service import demo
from service.clocks import ClockStatus, clock_status
from service.models import RequestStatus, ServiceRequest, SlaClock
from service.sla import request_calendar
from tests.service.factories import settings


def _untracked(items, _label):
    return items


def test_demo_has_requests_in_every_state_across_queues_and_some_near_breach(session):
    rng = random.Random(2026)
    seed_core(session, rng, "small", _untracked)
    network_demo.seed(session, rng, "small", _untracked)

    notes = demo.seed(session, rng, "small", _untracked)

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
    assert "desk1" in notes[0]
