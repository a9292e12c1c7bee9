"""What the service center holds about a person, for app.crm.personal_data.

Erased, a request keeps its category, queue, times, clocks and outcome (the SLA record and a complaint's
evidence for the shop's certification); what the person wrote, their number, name, photos, channel ids and
place go, and the agents' replies lose the person's name and number.
"""

from __future__ import annotations

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from app.crm.personal_data import Person, coarsen, record_to_dict, register_eraser, register_exporter
from service.models import Attachment, ChannelIdentity, Event, HeldNotification, Message, ServiceRequest, Survey


def _requests_of(session: Session, person: Person) -> list[ServiceRequest]:
    mine = or_(ServiceRequest.customer_id == person.customer_id, ServiceRequest.phone == person.phone)
    return list(session.scalars(select(ServiceRequest).where(mine).order_by(ServiceRequest.id)))


def export_service(session: Session, person: Person) -> dict:
    """Return the person's service requests with the messages they can see and their survey answers."""
    requests = _requests_of(session, person)
    ids = [request.id for request in requests]
    messages = session.scalars(
        select(Message).where(Message.request_id.in_(ids), Message.visibility == "customer").order_by(Message.id)
    )
    surveys = session.scalars(select(Survey).where(Survey.request_id.in_(ids)).order_by(Survey.id))
    identities = session.scalars(select(ChannelIdentity).where(ChannelIdentity.customer_id == person.customer_id))
    return {
        "service_requests": [record_to_dict(row, without=("assignee_id",)) for row in requests],
        "messages": [record_to_dict(row, without=("author_user_id",)) for row in messages],
        "surveys": [record_to_dict(row, without=("token_hash", "agent_id")) for row in surveys],
        "channel_identities": [record_to_dict(row) for row in identities],
    }


def erase_service(session: Session, person: Person) -> dict[str, int]:
    """Anonymize the person's service requests; their clocks and outcomes stay."""
    requests = _requests_of(session, person)
    ids = [request.id for request in requests]
    for request in requests:
        request.subject, request.body = person.scrub(request.subject), ""
        request.phone, request.caller_name, request.channel_user = None, "", None
        request.lat, request.lon = coarsen(request.lat), coarsen(request.lon)
        request.callback_requested = False
    for message in session.scalars(select(Message).where(Message.request_id.in_(ids))):
        message.body = "" if message.author_customer_id is not None else person.scrub(message.body)
    for survey in session.scalars(select(Survey).where(Survey.request_id.in_(ids))):
        survey.comment = ""
    for event in session.scalars(select(Event).where(Event.request_id.in_(ids))):
        event.from_value, event.to_value = person.scrub(event.from_value), person.scrub(event.to_value)
    for held in session.scalars(select(HeldNotification).where(HeldNotification.request_id.in_(ids))):
        held.text = person.scrub(held.text)
    photos = session.execute(delete(Attachment).where(Attachment.request_id.in_(ids)))
    session.execute(delete(ChannelIdentity).where(ChannelIdentity.customer_id == person.customer_id))
    return {"service_requests": len(requests), "photos": int(photos.rowcount or 0)}


register_exporter("service", export_service)
register_eraser("service", erase_service)
