"""SLA policies and the clocks of each request: matching, starting, pausing, meeting, warning and breaching."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.calendars import BusinessCalendar, always_open_calendar
from service.clocks import (
    ClockKind,
    change_target,
    compute_due,
    meet_clock,
    pause_clock,
    resume_clock,
    used_fraction,
)
from service.models import (
    OPEN_STATUSES,
    PAUSE_STATUSES,
    SAFETY_CATEGORIES,
    Queue,
    QueueMember,
    ServiceRequest,
    SlaClock,
    SlaPolicy,
)
from service.notices import notify_agent
from service.queues import OEM_DESK, business_calendar, find_queue
from service.settings import ServiceSettings
from service.timeline import record_event


def match_policy(session: Session, request: ServiceRequest) -> SlaPolicy | None:
    """Return the most specific active policy matching the request's queue, category, priority and fleet."""
    fleet_id = request.customer.fleet_id if request.customer is not None else None
    best, best_score = None, -1
    for policy in session.scalars(select(SlaPolicy).where(SlaPolicy.active.is_(True)).order_by(SlaPolicy.id)):
        criteria = (
            (policy.queue_id, request.queue_id),
            (policy.category, request.category),
            (policy.priority, request.priority),
            (policy.fleet_id, fleet_id),
        )
        if any(wanted is not None and wanted != actual for wanted, actual in criteria):
            continue
        score = sum(wanted is not None for wanted, _ in criteria)
        if score > best_score:
            best, best_score = policy, score
    return best


def request_calendar(request: ServiceRequest, settings: ServiceSettings) -> BusinessCalendar:
    """Return the calendar the request's clocks count in: 24/7 for safety matters, else the policy's or queue's."""
    if request.category in SAFETY_CATEGORIES:
        return always_open_calendar(settings.zone)
    if request.policy is not None and request.policy.calendar is not None:
        return business_calendar(request.policy.calendar)
    return business_calendar(request.queue.calendar)


def _targets(request: ServiceRequest, settings: ServiceSettings) -> dict[str, int]:
    first, following, resolution = settings.default_targets
    if request.policy is not None:
        first = request.policy.first_response_minutes
        following = request.policy.next_response_minutes
        resolution = request.policy.resolution_minutes
    return {ClockKind.FIRST_RESPONSE: first, ClockKind.NEXT_RESPONSE: following, ClockKind.RESOLUTION: resolution}


def find_clock(request: ServiceRequest, kind: str) -> SlaClock | None:
    """Return the request's clock of `kind`, if started."""
    return next((clock for clock in request.clocks if clock.kind == kind), None)


def start_clocks(session: Session, request: ServiceRequest, settings: ServiceSettings) -> None:
    """Match the policy and start the first-response and resolution clocks at the request's creation."""
    request.policy = match_policy(session, request)
    calendar = request_calendar(request, settings)
    targets = _targets(request, settings)
    for kind in (ClockKind.FIRST_RESPONSE, ClockKind.RESOLUTION):
        clock = SlaClock(
            request=request,
            kind=kind,
            policy_id=request.policy.id if request.policy else None,
            started_at=request.created_at,
            target_minutes=targets[kind],
            paused_seconds=0.0,
        )
        clock.due_at = compute_due(calendar, clock)
        session.add(clock)
    session.flush()


def reapply_policy(session: Session, request: ServiceRequest, settings: ServiceSettings) -> None:
    """After a priority, category or queue change, apply the matching policy's targets to the running clocks."""
    request.policy = match_policy(session, request)
    calendar = request_calendar(request, settings)
    targets = _targets(request, settings)
    for clock in request.clocks:
        clock.policy_id = request.policy.id if request.policy else None
        change_target(calendar, clock, targets[clock.kind])
    session.flush()


def on_status_change(
    session: Session, request: ServiceRequest, old: str, new: str, settings: ServiceSettings, now: datetime
) -> None:
    """Pause next response and resolution in the waiting states; restart them when the request moves on."""
    calendar = request_calendar(request, settings)
    for clock in request.clocks:
        if new in PAUSE_STATUSES:
            pause_clock(clock, now)
        elif old in PAUSE_STATUSES:
            resume_clock(calendar, clock, now)
    session.flush()


def on_agent_reply(session: Session, request: ServiceRequest, now: datetime) -> None:
    """A person's customer-visible reply: meets the first response (once) and the pending next response."""
    for kind in (ClockKind.FIRST_RESPONSE, ClockKind.NEXT_RESPONSE):
        clock = find_clock(request, kind)
        if clock is not None and clock.met_at is None:
            meet_clock(clock, now)
            record_event(session, request, "sla_met", to_value=kind, at=now)
    if request.first_responded_at is None:
        request.first_responded_at = now
    request.awaiting_reply_since = None
    session.flush()


def on_customer_message(session: Session, request: ServiceRequest, settings: ServiceSettings, now: datetime) -> None:
    """A customer wrote after the first response: the next-response clock (re)starts now."""
    if request.first_responded_at is None:
        return
    request.awaiting_reply_since = now
    calendar = request_calendar(request, settings)
    clock = find_clock(request, ClockKind.NEXT_RESPONSE)
    if clock is None:
        clock = SlaClock(request=request, kind=ClockKind.NEXT_RESPONSE, started_at=now, target_minutes=0)
        session.add(clock)
    elif clock.met_at is None:
        return
    clock.started_at, clock.target_minutes = now, _targets(request, settings)[ClockKind.NEXT_RESPONSE]
    clock.paused_seconds, clock.paused_since = 0.0, None
    clock.met_at = clock.breached_at = clock.warned_at = clock.escalated_at = None
    clock.policy_id = request.policy_id
    clock.due_at = compute_due(calendar, clock)
    session.flush()


def on_resolved(session: Session, request: ServiceRequest, settings: ServiceSettings, now: datetime) -> None:
    """Resolution meets the resolution clock; its time stops, and restarts if the request is reopened."""
    for clock in request.clocks:
        if clock.kind in (ClockKind.RESOLUTION, ClockKind.NEXT_RESPONSE) and clock.met_at is None:
            meet_clock(clock, now)
            if clock.kind == ClockKind.RESOLUTION and clock.paused_since is None:
                # Kept paused from now, so that a reopening does not count the resolved time against it.
                clock.paused_since = now
    session.flush()


def on_reopened(session: Session, request: ServiceRequest, settings: ServiceSettings, now: datetime) -> None:
    """A reopened request owes its resolution again; the resolved time does not count against it."""
    clock = find_clock(request, ClockKind.RESOLUTION)
    if clock is not None:
        clock.met_at = None
        resume_clock(request_calendar(request, settings), clock, now)
    session.flush()


def _claim(clock: SlaClock, column: str, value: datetime, session: Session) -> bool:
    """Set a milestone column once, with a conditional UPDATE, so two workers never act twice."""
    target = getattr(SlaClock, column)
    result = session.execute(update(SlaClock).where(SlaClock.id == clock.id, target.is_(None)).values({column: value}))
    if result.rowcount:
        session.refresh(clock, [column])
        return True
    return False


def _supervisors(session: Session, queue: Queue) -> list[int]:
    """Return who hears of a breach: the queue's supervisor, else its active members, and the OEM desk's."""
    ids = [queue.supervisor_id] if queue.supervisor_id else []
    desk = find_queue(session, OEM_DESK)
    if desk is not None and desk.supervisor_id and desk.supervisor_id not in ids:
        ids.append(desk.supervisor_id)
    if not ids:
        ids = list(
            session.scalars(
                select(QueueMember.user_id).where(QueueMember.queue_id == queue.id, QueueMember.active.is_(True))
            )
        )
    return ids


def advance_clocks(session: Session, settings: ServiceSettings, now: datetime) -> dict[str, int]:
    """Warn at the warning share, breach and escalate at 100 %, tell the OEM past the alert share."""
    counts = {"warned": 0, "breached": 0, "oem_alerted": 0}
    statement = (
        select(SlaClock)
        .join(ServiceRequest, ServiceRequest.id == SlaClock.request_id)
        .where(
            SlaClock.met_at.is_(None),
            SlaClock.paused_since.is_(None),
            SlaClock.due_at.is_not(None),
            SlaClock.escalated_at.is_(None),
            ServiceRequest.status.in_([status.value for status in OPEN_STATUSES]),
        )
        .order_by(SlaClock.due_at)
    )
    for clock in session.scalars(statement).all():
        request = clock.request
        calendar = request_calendar(request, settings)
        fraction = used_fraction(calendar, clock, now)
        queue_calendar = business_calendar(request.queue.calendar)
        if fraction >= settings.warn_fraction and _claim(clock, "warned_at", now, session):
            counts["warned"] += 1
            if request.assignee_id is not None:
                text = f"{request.number}: {clock.kind} due soon"
                notify_agent(session, request, request.assignee_id, "sla_warning", text, queue_calendar, now)
        if fraction >= 1 and _claim(clock, "breached_at", clock.due_at or now, session):
            counts["breached"] += 1
            record_event(session, request, "sla_breached", to_value=clock.kind, at=now)
            for user_id in _supervisors(session, request.queue):
                text = f"{request.number}: {clock.kind} breached"
                notify_agent(session, request, user_id, "sla_breach", text, queue_calendar, now)
        if fraction >= settings.oem_alert_fraction and _claim(clock, "escalated_at", now, session):
            counts["oem_alerted"] += 1
            record_event(session, request, "sla_escalated", to_value=clock.kind, at=now)
            desk = find_queue(session, OEM_DESK)
            if desk is not None:
                for user_id in _supervisors(session, desk):
                    text = f"{request.number}: {clock.kind} far past due"
                    notify_agent(
                        session, request, user_id, "sla_escalation", text, business_calendar(desk.calendar), now
                    )
    session.flush()
    return counts
