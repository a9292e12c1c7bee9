"""Driver pages: find a shop near me, shops ahead, a shop with its slots and booking form, my bookings."""

from __future__ import annotations

from datetime import date, datetime

from flask import current_app, flash, redirect, render_template, request, url_for
from pydantic import Field
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.crm.customers import find_customer_for_user
from app.crm.models import Vehicle
from app.crm.vehicles import get_vehicle_for
from app.db import utcnow
from app.errors import InvalidInput, MilepostError, NotFound
from app.geo import parse_position
from app.security import Role, require_role
from app.web.context import current_actor, db_session, settings
from app.web.csrf import check_csrf
from app.web.endpoints import QuerySchema, parse_query
from app.web.pagination import PageQuery, paginate
from app.web.redirects import safe_next
from app.web.transaction import discard_request_writes
from network import assistance, booking, rendering
from network.highways import RouteCity, find_route_city, list_route_cities
from network.hours import is_open_at
from network.links import booking_links, shop_links
from network.models import Booking, Service
from network.pages import DONE_MESSAGES, page_actor, pages
from network.places import find_place
from network.search import Filters
from network.shops import get_shop, shop_to_dict
from network.web import current_settings, nearest_shops, shops_ahead


def _filters() -> Filters:
    service = request.args.get("service") or None
    if service is not None and service not in Service.__members__.values():
        raise InvalidInput("unknown service %(service)r", field="service", service=service)
    return Filters(
        service=service,
        open_at=utcnow() if request.args.get("open_now") else None,
        certified=bool(request.args.get("certified")),
    )


def map_config(**extra: object) -> dict:
    """Return what the map script needs: tile URL (may be empty: routes only) and the highways endpoint."""
    return {"tiles": settings()["MAP_TILE_URL"], "routes": url_for("network_api.highways"), **extra}


def _markers(items: list[dict]) -> list[dict]:
    return [
        {
            "lat": item["lat"],
            "lon": item["lon"],
            "label": item["name"],
            "href": url_for("network.shop_page", code=item["code"]),
        }
        for item in items
    ]


@pages.route("/shops")
def find_shops():
    """Find the nearest shops to the browser's position or a typed place."""
    items, error, where = [], None, None
    try:
        if request.args.get("place"):
            position, where = find_place(request.args["place"])
        elif request.args.get("lat") or request.args.get("lon"):
            position = parse_position(request.args.get("lat"), request.args.get("lon"))
            where = f"{position.lat:.4f}, {position.lon:.4f}"
        else:
            position = None
        if position is not None:
            items = nearest_shops(db_session(), position, 10, _filters())
    except InvalidInput as problem:
        error = problem
    markers = _markers(items)
    return render_template(
        "network/find.html",
        items=items,
        error=error,
        where=where,
        services=list(Service),
        map=map_config(markers=markers),
    )


@pages.route("/shops/ahead")
def ahead():
    """List the shops ahead on the driver's route, towards a city on it (or along the GPS heading)."""
    result, error, towards = None, None, None
    try:
        towards = find_route_city(request.args["towards"]) if request.args.get("towards") else None
        if request.args.get("lat") or request.args.get("lon"):
            result = _shops_ahead(towards)
        elif towards is not None or request.args.get("heading"):
            raise InvalidInput(
                "your position is missing: tap “use my location and heading” or type latitude and longitude",
                field="lat",
            )
    except InvalidInput as problem:
        error = problem
    markers = _markers(result["items"]) if result else []
    return render_template(
        "network/ahead.html",
        result=result,
        error=error,
        towards=towards,
        route_cities=list_route_cities(),
        services=list(Service),
        map=map_config(markers=markers),
    )


def _shops_ahead(towards: RouteCity | None) -> dict:
    position = parse_position(request.args.get("lat"), request.args.get("lon"))
    heading = request.args.get("heading") or None
    if towards is None and heading is None and not request.args.get("highway"):
        raise InvalidInput("choose the city you are driving towards", field="towards")
    try:
        heading_value = float(heading) % 360 if heading is not None else None
    except ValueError:
        raise InvalidInput("heading is degrees from north", field="heading") from None
    try:
        within_km = float(request.args.get("within_km") or "150")
    except ValueError:
        raise InvalidInput("within_km is a number of km", field="within_km") from None
    return shops_ahead(
        db_session(),
        position,
        heading_value,
        request.args.get("highway") or None,
        request.args.get("direction") or None,
        within_km,
        _filters(),
        towards,
    )


def driver_vehicles(actor) -> list[Vehicle]:
    """Return the signed-in driver's vehicles (none for anybody else)."""
    if actor is None or actor.role != Role.DRIVER:
        return []
    customer = find_customer_for_user(db_session(), actor)
    if customer is None:
        return []
    return list(db_session().scalars(select(Vehicle).where(Vehicle.owner_id == customer.id).order_by(Vehicle.vin)))


@pages.route("/shops/<code>", methods=["GET", "POST"])
def shop_page(code: str):
    """Show a shop: services, hours, rating, its slots for a day, and the booking form."""
    session = db_session()
    network_settings = current_settings()
    shop = get_shop(session, code, field="code")
    actor = current_actor()
    error = None
    if request.method == "POST":
        check_csrf()
        try:
            actor = require_role(actor, Role.DRIVER)
            vehicle = get_vehicle_for(session, actor, request.form.get("vin", ""))
            try:
                start = datetime.fromisoformat(request.form.get("start", ""))
            except ValueError:
                raise InvalidInput("choose a slot", field="start") from None
            booking.book_slot(session, actor, shop, vehicle, request.form.get("service", ""), start, network_settings)
            return redirect(url_for("network.my_bookings", booked=1))
        except MilepostError as problem:
            discard_request_writes(problem)
            error = problem
    today = utcnow().astimezone(network_settings.zone).date()
    try:
        day = date.fromisoformat(request.args["date"]) if request.args.get("date") else None
    except ValueError:
        day = None
    if day is None:
        day = booking.first_bookable_day(session, shop, today, network_settings)
    slots = booking.list_slots(session, shop, day, network_settings)
    details = shop_to_dict(shop)
    return render_template(
        "network/shop.html",
        shop=details,
        open_now=is_open_at(shop.opening_hours, shop.open_24h, utcnow(), network_settings.zone),
        day=day,
        slots=slots,
        vehicles=driver_vehicles(actor),
        error=error,
        links=shop_links(shop, actor),
        map=map_config(markers=_markers([details]), zoom=11),
    ), (400 if error else 200)


class MyBookingsQuery(QuerySchema):
    """Each list of "my bookings" pages on its own: the upcoming ones soonest first, the past ones latest first."""

    upcoming_page: int = Field(1, ge=1, le=1_000_000, description="page of the bookings still to come")
    past_page: int = Field(1, ge=1, le=1_000_000, description="page of the bookings whose slot has started")


@pages.route("/bookings/mine")
def my_bookings():
    """List the signed-in driver's bookings, upcoming and past, with a cancel button where cancelling is allowed."""
    actor = page_actor(Role.DRIVER)
    if isinstance(actor, Response):
        return actor
    session = db_session()
    settings_ = current_settings()
    query = parse_query(MyBookingsQuery)
    now = utcnow()
    mine = booking.select_bookings_for(actor)
    # Coming bookings soonest first, past ones most recent first: the booking just made and the service just
    # completed are at the top of their lists, not under years of history.
    upcoming = mine.where(Booking.start >= now)
    past = mine.where(Booking.start < now).order_by(None).order_by(Booking.start.desc(), Booking.id.desc())
    lists = {}
    for name, statement, page in (("upcoming", upcoming, query.upcoming_page), ("past", past, query.past_page)):
        # Higher domains (reviews) register the links a booking may show; network names none of them.
        lists[name] = paginate(
            session,
            statement,
            PageQuery(page=page),
            lambda item: {
                **rendering.booking_to_dict(item, settings_.zone, actor),
                "links": booking_links(item, current_app.config, now),
            },
        )
    requests = [
        rendering.request_to_dict(item, actor, settings_.zone)
        for item in session.scalars(assistance.select_requests_for(actor, None).limit(10))
    ]
    return render_template(
        "network/my_bookings.html",
        upcoming=lists["upcoming"],
        past=lists["past"],
        requests=requests,
        booked=request.args.get("booked"),
    )


def _readings() -> dict[str, int]:
    """Return the meters the shop typed on the console (blank ones left out)."""
    readings = {}
    for name in booking.READING_FIELDS:
        text = (request.form.get(name) or "").replace(",", "").strip()
        if not text:
            continue
        if not text.isdigit() or len(text) > 8:
            raise InvalidInput("a meter reading is a whole number", field=name)
        readings[name] = int(text)
    return readings


@pages.route("/bookings/<int:booking_id>/<action>", methods=["POST"])
def change_booking(booking_id: int, action: str):
    """Cancel (driver) or move along (shop staff) a booking from a page, then go back."""
    check_csrf()
    actor = require_role(current_actor(), Role.DRIVER, Role.SHOP_STAFF, Role.OEM_ADMIN)
    session = db_session()
    found = session.get(Booking, booking_id)
    if found is None or not booking.may_see_booking(actor, found):
        raise NotFound("no such booking", field="id")
    booking.transition_booking(
        session, actor, found, action, current_settings(), request.form.get("reason", ""), readings=_readings()
    )
    flash(str(DONE_MESSAGES[action]), "success")
    return redirect(safe_next(request.form.get("next")))
