"""Bookings: book a slot, list and show bookings, and move them along their states."""

from __future__ import annotations

from datetime import datetime, time

from flask import current_app
from pydantic import Field

from app.crm.vehicles import get_vehicle_for
from app.crm.wechat import WECHAT_KEY, templates_to_ask
from app.errors import NotFound
from app.security import Role
from app.web.context import db_session
from app.web.endpoints import SIGNED_IN, QuerySchema, Schema, api_words
from app.web.pagination import PageQuery, paginate
from network import booking, rendering
from network.api import api
from network.api.shops import parse_day
from network.models import Booking, Service
from network.notices import AFTER_BOOKING
from network.shops import find_shop_of_organization, get_shop
from network.web import current_settings


class BookingIn(Schema):
    shop: str = Field(description="shop code")
    vin: str = Field(description="your vehicle's VIN")
    service: str = Field(description=api_words("one of %(values)s", values=", ".join(Service)))
    start: datetime = Field(description="slot start, ISO 8601 with offset")
    note: str = Field("", max_length=500)


class BookingListQuery(PageQuery):
    shop: str | None = Field(None, description="shop code (staff: defaults to your shop)")
    day: str | None = Field(None, alias="date", description="only bookings starting on this local date (date=)")


class TransitionQuery(QuerySchema):
    reason: str = Field("", max_length=500, description="why (reject, cancel)")
    odometer_km: int | None = Field(None, ge=0, le=10_000_000, description="odometer read at check-in or completion")
    engine_hours: int | None = Field(None, ge=0, le=10_000_000, description="engine hours read then")


def _get_booking(booking_id: int, actor) -> Booking:
    found = db_session().get(Booking, booking_id)
    if found is None or not booking.may_see_booking(actor, found):
        raise NotFound("no such booking", field="id")
    return found


@api.endpoint("POST", "/bookings", access=[Role.DRIVER], body=BookingIn, status=201, summary="Book a slot")
def create_booking(actor, body: BookingIn):
    session = db_session()
    settings = current_settings()
    shop = get_shop(session, body.shop, field="shop")
    vehicle = get_vehicle_for(session, actor, body.vin)
    made = booking.book_slot(session, actor, shop, vehicle, body.service, body.start, settings, note=body.note)
    # The moment to ask for WeChat grants: the shop's answer is what the driver waits for next.
    ask = templates_to_ask(current_app.extensions.get(WECHAT_KEY), AFTER_BOOKING)
    return {**rendering.booking_to_dict(made, settings.zone, actor), "wechat_subscribe": ask}, 201


@api.endpoint("GET", "/bookings", access=SIGNED_IN, query=BookingListQuery, summary="List bookings you may see")
def list_bookings(actor, query: BookingListQuery):
    session = db_session()
    settings = current_settings()
    shop = get_shop(session, query.shop, field="shop") if query.shop else None
    if shop is None and actor.role == Role.SHOP_STAFF:
        shop = find_shop_of_organization(session, actor.organization_id)
    day_start = datetime.combine(parse_day(query.day), time(0), tzinfo=settings.zone) if query.day else None
    statement = booking.select_bookings_for(actor, shop, day_start)
    return paginate(session, statement, query, lambda item: rendering.booking_to_dict(item, settings.zone, actor))


@api.endpoint("GET", "/bookings/<int:booking_id>", access=SIGNED_IN, summary="Show a booking")
def show_booking(actor, booking_id: int):
    return rendering.booking_to_dict(_get_booking(booking_id, actor), current_settings().zone, actor)


def _transition(action: str):
    def view(actor, booking_id: int, query: TransitionQuery):
        session = db_session()
        settings = current_settings()
        readings = {name: getattr(query, name) for name in booking.READING_FIELDS if getattr(query, name) is not None}
        changed = booking.transition_booking(
            session, actor, _get_booking(booking_id, actor), action, settings, query.reason, readings=readings
        )
        return rendering.booking_to_dict(changed, settings.zone, actor)

    view.__name__ = "booking_" + action.replace("-", "_")
    return view


TRANSITION_SUMMARIES = {
    "confirm": api_words("Confirm a booking"),
    "reject": api_words("Reject a booking"),
    "check-in": api_words("Check in a booking"),
    "complete": api_words("Complete a booking"),
    "no-show": api_words("No-show a booking"),
    "cancel": api_words("Cancel a booking"),
}

for _action in booking.TRANSITIONS:
    api.endpoint(
        "POST",
        f"/bookings/<int:booking_id>/{_action}",
        access=SIGNED_IN,
        query=TransitionQuery,
        summary=TRANSITION_SUMMARIES[_action],
    )(_transition(_action))
