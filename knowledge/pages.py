"""Knowledge pages: the driver's fault lookup that ends at a shop ahead, articles, the OEM's early warning, and
the booked shop's fault and fix entry."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from urllib.parse import urlencode

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.crm.vehicles import get_vehicle_for
from app.db import utcnow
from app.errors import InvalidInput, MilepostError, NotFound
from app.security import Role
from app.web.context import current_actor, db_session
from app.web.csrf import check_csrf
from app.web.i18n import select_locale
from app.web.navigation import NavLink
from app.web.transaction import discard_request_writes
from knowledge import answers, articles, faults, fixes
from knowledge.codes import parse_code
from knowledge.models import FixKind, VehicleFault
from network.models import Booking
from network.pages import page_actor
from network.pages.driver import driver_vehicles
from network.shops import find_shop_of_organization
from network.web import shops_for_service
from traceability.models import PartType

pages = Blueprint(
    "knowledge",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/knowledge/static",
)

NAVIGATION: list[NavLink] = [
    NavLink("knowledge.fault_lookup", "Fault codes"),
    NavLink("knowledge.workshop", "Fault entry", (Role.SHOP_STAFF,)),
    NavLink("knowledge.trends_page", "Fault trends", (Role.OEM_ADMIN,)),
]
SHOPS_SHOWN = 3
LOOK_AHEAD_KM = 150.0
# Service (the service-request domain) builds this page; the lookup only links to it.
ASK_OEM_PATH = "/service/new"
VERDICT_COLOURS = {"stop": "red", "service_soon": "amber", "monitor": "grey", "info": "grey", "unknown": "grey"}
FIX_LABELS = {
    FixKind.PART_REPLACED: _l("Part replaced"),
    FixKind.WIRING: _l("Wiring repaired"),
    FixKind.CLEANING: _l("Cleaned"),
    FixKind.SOFTWARE: _l("Software updated"),
    FixKind.ADJUSTMENT: _l("Adjusted"),
    FixKind.REFILL: _l("Refilled"),
    FixKind.NO_FAULT_FOUND: _l("No fault found"),
}
# Links higher domains add under a looked-up code (community: "ask other drivers"), so that this page never
# names them: key -> function of the code's short form returning (label, url).
FaultPageLink = Callable[[str], tuple[str, str]]
_FAULT_PAGE_LINKS: dict[str, FaultPageLink] = {}


def register_fault_page_link(link: FaultPageLink, key: str) -> None:
    """Add (or replace, by key) a link the fault page shows with a looked-up code."""
    _FAULT_PAGE_LINKS[key] = link


def ask_oem_url(code_short: str) -> str:
    """Return the link that opens a service request at the OEM with the code attached."""
    return f"{ASK_OEM_PATH}?{urlencode({'code': code_short})}"


def shops_for_fault(session, service: str, lat: str | None, lon: str | None, heading: str | None) -> dict | None:
    """Return the three nearest shops ahead that offer `service` and are open now (or the nearest when off a road)."""
    return shops_for_service(
        session, service, lat, lon, heading, look_ahead_km=LOOK_AHEAD_KM, shown=SHOPS_SHOWN, open_at=utcnow()
    )


@pages.route("/faults")
def fault_lookup():
    """Show what a fault code means, what to do now, and the shops ahead that can fix it, open now."""
    session = db_session()
    actor = current_actor()
    vehicles = driver_vehicles(actor)
    text = request.args.get("code", "").strip()
    answer, shops, error = None, None, None
    if text:
        try:
            vin = request.args.get("vin") or None
            vehicle = get_vehicle_for(session, actor, vin) if vin and vehicles else None
            answer = answers.answer_code(session, text, vehicle)
            shops = shops_for_fault(
                session,
                answer[0].service,
                request.args.get("lat"),
                request.args.get("lon"),
                request.args.get("heading"),
            )
        except InvalidInput as problem:
            error = problem
    lookup = answer[0] if answer else None
    # The driver's trucks' active faults (as the platforms, the shops and he reported them), to look up again.
    active = [
        (vehicle, [faults.fault_to_dict(fault) for fault in faults.list_vehicle_faults(session, vehicle, True)])
        for vehicle in vehicles
    ]
    return render_template(
        "knowledge/faults.html",
        text=text,
        lookup=lookup,
        details=answers.answer_to_dict(answer, select_locale()) if answer else None,
        colour=VERDICT_COLOURS[lookup.verdict] if lookup else None,
        shops=shops,
        vehicles=vehicles,
        error=error,
        ask_oem=ask_oem_url(lookup.code.short) if lookup else None,
        more_links=[link(lookup.code.short) for _key, link in sorted(_FAULT_PAGE_LINKS.items())] if lookup else [],
        fix_labels=FIX_LABELS,
        recorded=request.args.get("recorded"),
        active=[(vehicle, items) for vehicle, items in active if items],
    ), (400 if error else 200)


@pages.route("/faults/record", methods=["POST"])
def record_my_fault():
    """Record the looked-up code on one of the driver's own trucks, then go back to the answer."""
    check_csrf()
    actor = page_actor(Role.DRIVER)
    if isinstance(actor, Response):
        return actor
    session = db_session()
    vehicle = get_vehicle_for(session, actor, request.form.get("vin", ""))
    code = parse_code(request.form.get("code", ""))
    faults.record_driver_fault(session, actor, vehicle, code)
    return redirect(url_for("knowledge.fault_lookup", code=code.short, vin=vehicle.vin, recorded=1))


@pages.route("/articles/<slug>")
def article_page(slug: str):
    """Show one published article."""
    article = articles.get_article(db_session(), slug, current_actor())
    return render_template(
        "knowledge/article.html", article=articles.article_to_dict(article, select_locale(), with_body=True)
    )


@pages.route("/faults/trends")
def trends_page():
    """Show the OEM which codes are spreading, by model and province (an early warning beside counterfeit alerts)."""
    actor = page_actor(Role.OEM_ADMIN)
    if isinstance(actor, Response):
        return actor
    try:
        days = min(max(int(request.args.get("days", "30")), 1), 366)
    except ValueError:
        days = 30
    items = fixes.fault_trends(db_session(), utcnow() - timedelta(days=days))
    return render_template("knowledge/trends.html", items=items, days=days)


@pages.route("/faults/shop")
def workshop():
    """List the shop's bookings arriving, in, or completed this week, each with its fault and fix entry."""
    actor = page_actor(Role.SHOP_STAFF)
    if isinstance(actor, Response):
        return actor
    session = db_session()
    shop = find_shop_of_organization(session, actor.organization_id)
    bookings = faults.list_workshop_bookings(session, shop.id, utcnow()) if shop else []
    return render_template("knowledge/workshop.html", shop=shop, bookings=bookings)


def _shop_booking(actor, booking_id: int) -> Booking:
    booking = db_session().get(Booking, booking_id)
    if booking is None or not (actor.role == Role.OEM_ADMIN or actor.organization_id == booking.shop.organization_id):
        raise NotFound("no such booking", field="booking")
    return booking


@pages.route("/faults/bookings/<int:booking_id>", methods=["GET", "POST"])
def booking_faults(booking_id: int):
    """Let the booked shop enter the codes it reads at check-in and, when done, what fixed each."""
    actor = page_actor(Role.SHOP_STAFF, Role.OEM_ADMIN)
    if isinstance(actor, Response):
        return actor
    session = db_session()
    booking = _shop_booking(actor, booking_id)
    error = None
    if request.method == "POST":
        check_csrf()
        try:
            if request.form.get("action") == "fix":
                number = request.form.get("fault_id", "")
                fault = session.get(VehicleFault, int(number)) if number.isdigit() and len(number) < 19 else None
                if fault is None:
                    raise InvalidInput("choose a fault", field="fault_id")
                part_number = request.form.get("part_number", "").strip()
                part_type = None
                if part_number:
                    part_type = session.scalar(select(PartType).where(PartType.part_number == part_number))
                    if part_type is None:
                        raise InvalidInput("no such part number", field="part_number")
                fixes.record_booking_fix(
                    session, actor, booking, fault, request.form.get("kind", ""), part_type=part_type
                )
            else:
                codes = [parse_code(line) for line in request.form.get("codes", "").splitlines() if line.strip()]
                faults.record_check_in_faults(session, actor, booking, codes)
            return redirect(url_for("knowledge.booking_faults", booking_id=booking.id))
        except MilepostError as problem:
            discard_request_writes(problem)
            error = problem
    return render_template(
        "knowledge/booking_faults.html",
        booking=booking,
        items=[faults.fault_to_dict(fault) for fault in faults.list_vehicle_faults(session, booking.vehicle)],
        fix_labels=FIX_LABELS,
        error=error,
    ), (error.status if error else 200)
