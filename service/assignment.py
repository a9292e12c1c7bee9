"""Who works a request: take (one conditional UPDATE), manual assignment, least-open or round-robin
auto-assignment within capacity, and a first-in-first-out backlog served when capacity frees up."""

from __future__ import annotations

import random
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.errors import Conflict, Forbidden, InvalidInput
from app.security import User
from service.models import (
    OPEN_STATUSES,
    AssignmentMode,
    Presence,
    Queue,
    QueueMember,
    RequestStatus,
    ServiceRequest,
)
from service.queues import member_capacity
from service.timeline import record_event

OPEN_VALUES = [status.value for status in OPEN_STATUSES]


def open_count(session: Session, user_id: int) -> int:
    """Return how many open requests a user holds, across queues (capacity is per person)."""
    return session.scalar(
        select(func.count())
        .select_from(ServiceRequest)
        .where(ServiceRequest.assignee_id == user_id, ServiceRequest.status.in_(OPEN_VALUES))
    )


def eligible_members(session: Session, queue: Queue) -> list[tuple[QueueMember, int]]:
    """Return the queue's members who may get work now (online, active, under capacity) with their open count."""
    found = []
    for member in queue.members:
        if not member.active or member.presence != Presence.ONLINE or not member.user.is_active:
            continue
        held = open_count(session, member.user_id)
        if held < member_capacity(member):
            found.append((member, held))
    return found


def pick_member(session: Session, queue: Queue, rng: random.Random) -> QueueMember | None:
    """Choose who gets the next request: least open with random ties, or the longest-waiting in round robin."""
    candidates = eligible_members(session, queue)
    if not candidates:
        return None
    if queue.assignment_mode == AssignmentMode.ROUND_ROBIN:
        return min(
            candidates, key=lambda pair: (pair[0].last_assigned_at is not None, pair[0].last_assigned_at, pair[0].id)
        )[0]
    fewest = min(held for _, held in candidates)
    # Random among the least loaded: breaking ties by creation order sends every tie to the oldest agent.
    return rng.choice([member for member, held in candidates if held == fewest])


def _give(session: Session, request_id: int, user_id: int, now: datetime, *, only_if_unassigned: bool) -> bool:
    statement = (
        update(ServiceRequest)
        .where(ServiceRequest.id == request_id, ServiceRequest.status.in_(OPEN_VALUES))
        .values(assignee_id=user_id, assigned_at=now, updated_at=now)
    )
    if only_if_unassigned:
        statement = statement.where(ServiceRequest.assignee_id.is_(None))
    return bool(session.execute(statement).rowcount)


def _after_assignment(session: Session, request: ServiceRequest, user: User, actor: User | None, now: datetime) -> None:
    session.refresh(request, ["assignee_id", "assigned_at", "status"])
    if request.status == RequestStatus.NEW:
        request.status = RequestStatus.OPEN
    member = session.scalar(
        select(QueueMember).where(QueueMember.queue_id == request.queue_id, QueueMember.user_id == user.id)
    )
    if member is not None:
        member.last_assigned_at = now
    record_event(session, request, "assigned", actor, to_value=user.display_name or user.login, at=now)


def take_request(session: Session, actor: User, request: ServiceRequest, now: datetime) -> ServiceRequest:
    """Take an unassigned request of one of the actor's queues; of two agents taking at once, one wins."""
    if not is_member(session, actor, request.queue_id):
        raise Forbidden("you do not work this request's queue")
    if not _give(session, request.id, actor.id, now, only_if_unassigned=True):
        raise Conflict("someone else has taken this request, or it is closed")
    _after_assignment(session, request, actor, actor, now)
    return request


def assign_request(
    session: Session, actor: User, request: ServiceRequest, assignee: User, now: datetime
) -> ServiceRequest:
    """Give a request to a member of its queue (a supervisor's or colleague's manual assignment)."""
    if not is_member(session, actor, request.queue_id):
        raise Forbidden("you do not work this request's queue")
    member = session.scalar(
        select(QueueMember).where(QueueMember.queue_id == request.queue_id, QueueMember.user_id == assignee.id)
    )
    if member is None or not member.active or not assignee.is_active:
        raise InvalidInput("the assignee does not work this queue", field="assignee")
    if not _give(session, request.id, assignee.id, now, only_if_unassigned=False):
        raise Conflict("the request is closed")
    _after_assignment(session, request, assignee, actor, now)
    return request


def is_member(session: Session, user: User, queue_id: int) -> bool:
    """Tell whether the user actively works the queue."""
    return (
        session.scalar(
            select(QueueMember.id).where(
                QueueMember.queue_id == queue_id, QueueMember.user_id == user.id, QueueMember.active.is_(True)
            )
        )
        is not None
    )


def backlog(session: Session, queue: Queue, limit: int = 100) -> list[ServiceRequest]:
    """Return the queue's unassigned open requests, oldest first."""
    return list(
        session.scalars(
            select(ServiceRequest)
            .where(
                ServiceRequest.queue_id == queue.id,
                ServiceRequest.assignee_id.is_(None),
                ServiceRequest.status.in_(OPEN_VALUES),
            )
            .order_by(ServiceRequest.created_at, ServiceRequest.id)
            .limit(limit)
        )
    )


def dispatch_backlog(session: Session, queue: Queue, now: datetime, rng: random.Random | None = None) -> int:
    """Assign the queue's waiting requests, oldest first, while someone has capacity; return how many."""
    if queue.assignment_mode == AssignmentMode.MANUAL:
        return 0
    rng = rng or random.Random()
    assigned = 0
    for request in backlog(session, queue):
        member = pick_member(session, queue, rng)
        if member is None:
            break
        if _give(session, request.id, member.user_id, now, only_if_unassigned=True):
            _after_assignment(session, request, member.user, None, now)
            session.flush()
            assigned += 1
    return assigned
