"""Merge suggestions (the same phone or truck within 72 hours) and merges that keep the earliest obligation."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.errors import Conflict, Forbidden, InvalidInput
from app.security import User
from service.access import may_work_request
from service.clocks import ClockKind, compute_due
from service.models import OPEN_STATUSES, Message, RequestLink, RequestStatus, ServiceRequest
from service.settings import ServiceSettings
from service.sla import find_clock, request_calendar
from service.timeline import record_event


def merge_suggestions(session: Session, request: ServiceRequest, settings: ServiceSettings) -> list[ServiceRequest]:
    """Return other open requests from the same phone or truck created within the merge window of this one."""
    matches = []
    if request.phone:
        matches.append(ServiceRequest.phone == request.phone)
    if request.vehicle_id is not None:
        matches.append(ServiceRequest.vehicle_id == request.vehicle_id)
    if not matches:
        return []
    window = timedelta(hours=settings.merge_window_hours)
    return list(
        session.scalars(
            select(ServiceRequest)
            .where(
                ServiceRequest.id != request.id,
                or_(*matches),
                ServiceRequest.status.in_([status.value for status in OPEN_STATUSES]),
                ServiceRequest.created_at >= request.created_at - window,
                ServiceRequest.created_at <= request.created_at + window,
            )
            .order_by(ServiceRequest.created_at)
        )
    )


def merge_requests(
    session: Session,
    actor: User,
    source: ServiceRequest,
    target: ServiceRequest,
    settings: ServiceSettings,
    now: datetime,
) -> ServiceRequest:
    """Merge `source` into `target`: messages and links move, the source becomes a tombstone pointing to it."""
    if source.id == target.id:
        raise InvalidInput("a request cannot be merged into itself", field="target")
    if not (may_work_request(session, actor, source) and may_work_request(session, actor, target)):
        raise Forbidden("you must work both requests' queues")
    if source.status == RequestStatus.MERGED or target.status == RequestStatus.MERGED:
        raise Conflict("a merged request cannot be merged again")
    session.execute(update(Message).where(Message.request_id == source.id).values(request_id=target.id))
    for link in list(source.links):
        duplicate = any(own.kind == link.kind and own.ref_id == link.ref_id for own in target.links)
        if duplicate:
            session.delete(link)
        else:
            session.execute(update(RequestLink).where(RequestLink.id == link.id).values(request_id=target.id))
    if source.created_at < target.created_at:
        # The customer asked first then: the first response is owed from that moment.
        target.created_at = source.created_at
        first = find_clock(target, ClockKind.FIRST_RESPONSE)
        if first is not None and first.met_at is None:
            first.started_at = source.created_at
            first.due_at = compute_due(request_calendar(target, settings), first)
    if target.first_responded_at is None and source.first_responded_at is not None:
        target.first_responded_at = source.first_responded_at
    if target.status in (RequestStatus.RESOLVED, RequestStatus.CLOSED):
        target.status, target.resolved_at, target.closed_at = RequestStatus.OPEN, None, None
    source.status, source.merged_into_id, source.closed_at = RequestStatus.MERGED, target.id, now
    record_event(session, source, "merged_into", actor, to_value=target.number, at=now)
    record_event(session, target, "merged_from", actor, from_value=source.number, at=now)
    session.flush()
    session.expire(target, ["links"])
    session.expire(source, ["links"])
    return target
