"""Queues, their calendars and members: the OEM desks, one queue per shop or dealer, presence and capacity."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.models import Organization, OrganizationKind
from app.errors import InvalidInput, NotFound
from app.security import Role, User
from service.calendars import BusinessCalendar, format_spans, parse_periods, parse_spans
from service.models import AssignmentMode, Calendar, CalendarException, Presence, Queue, QueueKind, QueueMember

OEM_DESK = "oem:desk"
OEM_NETWORK = "oem:network"
OEM_PARTS = "oem:parts"
OFFICE_HOURS = {day: [["08:30", "12:00"], ["13:30", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
OEM_QUEUES = {
    # The OEM desk answers around the clock (it is also the roadside desk); the other two keep office hours.
    OEM_DESK: ("OEM service desk", True),
    OEM_NETWORK: ("OEM network team", False),
    OEM_PARTS: ("OEM parts team", False),
}


def business_calendar(record: Calendar) -> BusinessCalendar:
    """Return the arithmetic form of a stored calendar."""
    return BusinessCalendar(
        zone=ZoneInfo(record.zone),
        periods=parse_periods(record.periods or {}),
        always_open=record.always_open,
        cn_holidays=record.cn_holidays,
        exceptions={row.day: parse_spans(row.periods, "periods") for row in record.exceptions},
    )


def ensure_calendar(
    session: Session,
    code: str,
    name: str,
    periods: dict | None = None,
    *,
    always_open: bool = False,
    cn_holidays: bool = True,
    zone: str = "Asia/Shanghai",
) -> Calendar:
    """Return the calendar `code`, creating it with these rules when it does not exist."""
    record = session.scalar(select(Calendar).where(Calendar.code == code))
    if record is None:
        cleaned = {day: format_spans(spans) for day, spans in parse_periods(periods or {}).items() if spans}
        record = Calendar(
            code=code, name=name, zone=zone, periods=cleaned, always_open=always_open, cn_holidays=cn_holidays
        )
        session.add(record)
        session.flush()
    return record


def set_calendar_exception(session: Session, calendar: Calendar, day: date, periods: list, note: str = "") -> None:
    """Close a day (no periods) or open it at `periods`, overriding the weekly rules and the holiday data."""
    spans = format_spans(parse_spans(periods, "periods"))
    row = session.scalar(
        select(CalendarException).where(CalendarException.calendar_id == calendar.id, CalendarException.day == day)
    )
    if row is None:
        session.add(CalendarException(calendar_id=calendar.id, day=day, periods=spans, note=note))
    else:
        row.periods, row.note = spans, note
    session.flush()
    session.expire(calendar, ["exceptions"])


def ensure_oem_queues(session: Session) -> dict[str, Queue]:
    """Create the OEM's desk, network and parts queues when missing; return them by code."""
    desk_calendar = ensure_calendar(session, "24x7", "24/7", always_open=True, cn_holidays=False)
    office = ensure_calendar(session, "oem-office", "OEM office hours", OFFICE_HOURS)
    queues = {}
    for code, (name, always_open) in OEM_QUEUES.items():
        queue = find_queue(session, code)
        if queue is None:
            queue = Queue(code=code, kind=QueueKind.OEM, name=name, calendar=desk_calendar if always_open else office)
            session.add(queue)
            session.flush()
        queues[code] = queue
    return queues


def find_queue(session: Session, code: str) -> Queue | None:
    """Return the queue `code`, if any."""
    return session.scalar(select(Queue).where(Queue.code == code))


def get_queue(session: Session, code: str) -> Queue:
    """Return the queue `code` or raise NotFound."""
    queue = find_queue(session, code)
    if queue is None:
        raise NotFound("no such queue", field="queue")
    return queue


def organization_queue(
    session: Session, organization: Organization, periods: dict | None = None, always_open: bool = False
) -> Queue:
    """Return the queue of a shop or dealer (`shop:CODE`, `dealer:CODE`), creating it on first use."""
    if organization.kind not in (OrganizationKind.SHOP, OrganizationKind.DEALER):
        raise InvalidInput("only shops and dealers have their own queue", field="organization")
    code = f"{organization.kind}:{organization.code}"
    queue = find_queue(session, code)
    if queue is None:
        calendar = ensure_calendar(
            session, code, organization.name, None if always_open else periods or OFFICE_HOURS, always_open=always_open
        )
        queue = Queue(
            code=code,
            kind=QueueKind.SHOP if organization.kind == OrganizationKind.SHOP else QueueKind.DEALER,
            name=organization.name,
            organization=organization,
            calendar=calendar,
            assignment_mode=AssignmentMode.BALANCED,
        )
        session.add(queue)
        session.flush()
    return queue


def add_member(
    session: Session, queue: Queue, user: User, capacity: int | None = None, presence: str = Presence.ONLINE
) -> QueueMember:
    """Put a user on a queue (staff of the queue's organization, or OEM staff on an OEM queue)."""
    if not may_join_queue(user, queue):
        raise InvalidInput("this user cannot work this queue", field="user")
    if capacity is not None and not 0 <= capacity <= 1000:
        raise InvalidInput("capacity must be between 0 and 1000", field="capacity")
    if presence not in Presence.__members__.values():
        raise InvalidInput("unknown presence", field="presence")
    member = session.scalar(select(QueueMember).where(QueueMember.queue_id == queue.id, QueueMember.user_id == user.id))
    if member is None:
        member = QueueMember(queue=queue, user=user)
        session.add(member)
    member.capacity, member.presence, member.active = capacity, presence, True
    session.flush()
    return member


def may_join_queue(user: User, queue: Queue) -> bool:
    """Tell whether a user may be a member of a queue."""
    if queue.kind == QueueKind.OEM:
        return user.role == Role.OEM_ADMIN
    return user.role != Role.DRIVER and user.organization_id == queue.organization_id


def member_capacity(member: QueueMember) -> int:
    """Return how many open requests a member may hold at once."""
    return member.capacity if member.capacity is not None else member.queue.default_capacity


def memberships_of(session: Session, user: User) -> list[QueueMember]:
    """Return the user's active queue memberships."""
    return list(
        session.scalars(
            select(QueueMember)
            .where(QueueMember.user_id == user.id, QueueMember.active.is_(True))
            .order_by(QueueMember.id)
        )
    )


def set_presence(session: Session, actor: User, presence: str) -> list[QueueMember]:
    """Set the actor's presence on every queue they work."""
    if presence not in Presence.__members__.values():
        raise InvalidInput("presence is online, away or offline", field="presence")
    members = memberships_of(session, actor)
    for member in members:
        member.presence = presence
    session.flush()
    return members
