"""What the network holds about a person (bookings, roadside requests) for app.crm.personal_data.

Erased, a booking keeps the shop's history (shop, truck, slot, service, status) and loses the driver's words;
a roadside request keeps what the shop's acceptance record needs, with its place coarsened to about 1 km.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.personal_data import Person, coarsen, record_to_dict, register_eraser, register_exporter
from network.models import AssistanceRequest, Booking


def export_network(session: Session, person: Person) -> dict:
    """Return the person's bookings and roadside requests."""
    bookings = session.scalars(select(Booking).where(Booking.customer_id == person.customer_id).order_by(Booking.id))
    requests = session.scalars(
        select(AssistanceRequest)
        .where(AssistanceRequest.customer_id == person.customer_id)
        .order_by(AssistanceRequest.id)
    )
    return {
        "bookings": [record_to_dict(row) for row in bookings],
        "roadside_requests": [record_to_dict(row) for row in requests],
    }


def erase_network(session: Session, person: Person) -> dict[str, int]:
    """Anonymize the person's bookings and roadside requests; the shops' records of them stay."""
    bookings = list(session.scalars(select(Booking).where(Booking.customer_id == person.customer_id)))
    for booking in bookings:
        booking.note = ""
        booking.reason = person.scrub(booking.reason)
    requests = list(
        session.scalars(select(AssistanceRequest).where(AssistanceRequest.customer_id == person.customer_id))
    )
    for request in requests:
        request.description, request.photos = "", []
        request.lat, request.lon = coarsen(request.lat), coarsen(request.lon)
    return {"bookings": len(bookings), "roadside_requests": len(requests)}


register_exporter("network", export_network)
register_eraser("network", erase_network)
