"""The vehicle page's network sections: the truck's bookings and roadside requests (the CRM page asks)."""

from __future__ import annotations

from flask import render_template
from sqlalchemy.orm import Session

from app.crm.models import Vehicle
from app.security import Role, User, is_oem
from network import assistance, booking, rendering
from network.models import AssistanceRequest, Booking
from network.web import current_settings

# The newest this many of each: the page is a truck's summary, my bookings keeps the full history.
HISTORY_LENGTH = 20


def vehicle_history_panel(session: Session, actor: User, vehicle: Vehicle) -> str:
    """Render a vehicle's bookings and roadside requests for its driver or the OEM (shops see their own elsewhere)."""
    if actor.role != Role.DRIVER and not is_oem(actor):
        return ""
    zone = current_settings().zone
    bookings = session.scalars(
        booking.select_bookings_for(actor)
        .where(Booking.vehicle_id == vehicle.id)
        .order_by(None)
        .order_by(Booking.start.desc(), Booking.id.desc())
        .limit(HISTORY_LENGTH)
    )
    requests = session.scalars(
        assistance.select_requests_for(actor, None)
        .where(AssistanceRequest.vehicle_id == vehicle.id)
        .limit(HISTORY_LENGTH)
    )
    return render_template(
        "network/_vehicle_history.html",
        bookings=[rendering.booking_to_dict(item, zone, actor) for item in bookings],
        requests=[rendering.request_to_dict(item, actor, zone) for item in requests],
    )
