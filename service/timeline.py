"""One timeline per request: messages, status, queue, assignee and clock events, and every linked record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.db import utcnow
from app.security import User
from service.models import Event, Message, RequestLink, ServiceRequest


def record_event(
    session: Session,
    request: ServiceRequest,
    kind: str,
    actor: User | None = None,
    from_value: object = None,
    to_value: object = None,
    at: datetime | None = None,
) -> Event:
    """Append one entry to the request's timeline (who did what, when)."""
    event = Event(
        request_id=request.id,
        kind=kind,
        from_value=None if from_value is None else str(from_value)[:200],
        to_value=None if to_value is None else str(to_value)[:200],
        actor_id=actor.id if actor is not None else None,
        at=at or utcnow(),
    )
    session.add(event)
    session.flush()
    return event


def link_record(session: Session, request: ServiceRequest, kind: str, ref_id: int, actor: User | None = None) -> None:
    """Link a record of another domain to the request (once), with a timeline entry."""
    exists = session.scalar(
        select(RequestLink.id).where(
            RequestLink.request_id == request.id, RequestLink.kind == kind, RequestLink.ref_id == ref_id
        )
    )
    if exists is None:
        session.add(RequestLink(request_id=request.id, kind=kind, ref_id=ref_id))
        session.flush()
        session.expire(request, ["links"])
        record_event(session, request, "linked", actor, to_value=f"{kind}:{ref_id}")


@dataclass(frozen=True)
class Entry:
    """One line of a timeline."""

    at: datetime
    kind: str
    message: Message | None = None
    event: Event | None = None
    link: RequestLink | None = None


def request_ids_shown_with(session: Session, request: ServiceRequest) -> list[int]:
    """Return the request and those merged into it (their messages show on its timeline)."""
    merged = session.scalars(select(ServiceRequest.id).where(ServiceRequest.merged_into_id == request.id))
    return [request.id, *merged]


def build_timeline(session: Session, request: ServiceRequest, *, customer_view: bool = False) -> list[Entry]:
    """Return the request's timeline in time order; the customer's view has only customer-visible messages."""
    ids = request_ids_shown_with(session, request)
    messages = select(Message).where(Message.request_id.in_(ids))
    if customer_view:
        messages = messages.where(Message.visibility == "customer")
    entries = [Entry(message.created_at, "message", message=message) for message in session.scalars(messages)]
    if not customer_view:
        events = session.scalars(select(Event).where(or_(*(Event.request_id == one for one in ids))))
        entries += [Entry(event.at, event.kind, event=event) for event in events]
        links = session.scalars(select(RequestLink).where(RequestLink.request_id.in_(ids)))
        entries += [Entry(link.created_at, "link", link=link) for link in links]
    entries.sort(key=lambda entry: (entry.at, entry.kind))
    return entries
