"""Service test data: the office calendar of the research file's examples, local instants, and records."""

from __future__ import annotations

import itertools
from datetime import datetime
from zoneinfo import ZoneInfo

from service.calendars import BusinessCalendar, parse_periods

ZONE = ZoneInfo("Asia/Shanghai")
WEEKDAY = [["08:30", "12:00"], ["13:30", "18:00"]]
WORKWEEK = ("mon", "tue", "wed", "thu", "fri")
# Mon-Fri 08:30-12:00 and 13:30-18:00 with China's holidays and make-up days.
_queue_numbers = itertools.count(1)
OFFICE = BusinessCalendar(zone=ZONE, periods=parse_periods(dict.fromkeys(WORKWEEK, WEEKDAY)))


def at(text: str) -> datetime:
    """Return a Shanghai local time written as 'YYYY-MM-DD HH:MM'."""
    return datetime.fromisoformat(text).replace(tzinfo=ZONE)


def settings(**overrides: object):
    """Return the service settings of a test app."""
    from app.config import load_settings
    from service.settings import service_settings

    return service_settings(load_settings({"PUBLIC_BASE_URL": "https://mp.test", **overrides}))


def make_queue(
    session, code: str | None = None, *, always_open: bool = False, mode: str = "balanced", capacity: int = 5
):
    """Add an OEM queue on the office calendar (or 24/7) with no members."""
    from service.models import Queue
    from service.queues import OFFICE_HOURS, ensure_calendar

    calendar = (
        ensure_calendar(session, "24x7", "24/7", always_open=True, cn_holidays=False)
        if always_open
        else ensure_calendar(session, "oem-office", "OEM office hours", OFFICE_HOURS)
    )
    code = code or f"oem:test-{next(_queue_numbers)}"
    queue = Queue(code=code, kind="oem", name=code, calendar=calendar, assignment_mode=mode, default_capacity=capacity)
    session.add(queue)
    session.flush()
    return queue


def make_agent(session, queue, capacity: int | None = None, presence: str = "online", **overrides: object):
    """Add an OEM agent and put them on `queue`."""
    from app.security import Role
    from service.queues import add_member
    from tests.factories import make_user

    organization = queue.organization if queue.organization is not None else None
    role = Role.OEM_ADMIN if queue.kind == "oem" else Role.SHOP_STAFF
    user = make_user(session, role=role, organization=organization, **overrides)
    add_member(session, queue, user, capacity=capacity, presence=presence)
    return user


def open_test_request(session, queue=None, *, when: str = "2026-11-30 09:00", actor=None, **fields: object):
    """Open a request from a driver (a new one unless `customer` is given) at local time `when`."""
    from service.intake import NewRequest, open_request
    from tests.factories import make_driver

    if "customer" not in fields and "phone" not in fields:
        _user, customer = make_driver(session)
        fields["customer"] = customer
    fields.setdefault("channel", "page")
    fields.setdefault("category", "other")
    fields.setdefault("subject", "车有异响")
    request = open_request(session, actor, NewRequest(**fields), settings(), at(when))
    if queue is not None and request.queue_id != queue.id:
        from service.transfers import transfer_request

        transfer_request(session, None, request, queue, settings(), at(when))
    return request
