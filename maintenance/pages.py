"""Maintenance pages: the truck page's maintenance section (what is due, a meter reading, "book now"), booking at a
shop ahead that offers the service, the driver's trucks, and the OEM's plans with a simple editor."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session
from werkzeug.wrappers import Response

from app.clock import local_date
from app.crm.customers import find_customer_for_user, is_own_customer
from app.crm.models import Vehicle
from app.crm.vehicles import get_vehicle_for, list_vehicles_of
from app.db import utcnow
from app.errors import InvalidInput, MilepostError, NotFound
from app.security import Role, User, require_role
from app.web.auth import page_actor
from app.web.context import current_actor, db_session
from app.web.csrf import check_csrf
from app.web.navigation import NavLink
from app.web.transaction import discard_request_writes
from maintenance import meters, plans, schedule
from maintenance.models import DutyCycle, MeterKind, ReadingSource, Rule, Status
from maintenance.schedule import Due, list_due
from maintenance.web import current_settings
from network.models import Service
from network.web import shops_for_service

pages = Blueprint("maintenance", __name__, template_folder="templates")
NAVIGATION = [NavLink("maintenance.list_plans", _l("Maintenance plans"), (Role.OEM_ADMIN,))]
STATUS_LABELS = {Status.OK: _l("OK"), Status.DUE_SOON: _l("Due soon"), Status.OVERDUE: _l("Past due")}
DUTY_LABELS = {
    DutyCycle.LONG_HAUL: _l("Long haul"),
    DutyCycle.REGIONAL: _l("Regional"),
    DutyCycle.SEVERE: _l("Severe duty"),
}
FIELD_LABELS = {
    "service_code": _l("Service code"),
    "label_zh": _l("Name (Chinese)"),
    "label_en": _l("Name (English)"),
    "every_km": _l("Every (km)"),
    "every_hours": _l("Every (engine hours)"),
    "every_months": _l("Every (months)"),
    "first_at_km": _l("First service at (km)"),
    "first_at_hours": _l("First service at (engine hours)"),
    "first_at_months": _l("First service after (months)"),
    "soon_km": _l("Due soon within (km)"),
    "soon_hours": _l("Due soon within (engine hours)"),
    "soon_days": _l("Due soon within (days)"),
    "shop_service": _l("Shop service"),
}
LOOK_AHEAD_KM = 200
SHOPS_SHOWN = 5
ITEM_FIELDS = (
    "service_code", "label_zh", "label_en", "every_km", "every_hours", "every_months", "first_at_km",
    "first_at_hours", "first_at_months", "soon_km", "soon_hours", "soon_days", "shop_service",
)  # fmt: skip


def item_label(item) -> str:
    """Return a plan item's name in the page's language."""
    return item.label_zh if str(get_locale()) == "zh" else item.label_en


def left_text(due: Due) -> str:
    """Say what is left (or how far past) on each leg of an item, in the page's language."""
    parts = []
    for left, ahead, past in (
        (due.km_left, _l("%(value)s km left"), _l("%(value)s km over")),
        (due.hours_left, _l("%(value)s h left"), _l("%(value)s h over")),
        (due.days_left, _l("%(value)s days left"), _l("%(value)s days over")),
    ):
        if left is not None:
            parts.append(str(ahead if left > 0 else past) % {"value": f"{abs(left):,}"})
    return " · ".join(parts)


def _render(template: str, **context: object) -> str:
    """Render a maintenance template with its helpers (the truck page's section renders in CRM's request)."""
    return render_template(template, **HELPERS, **context)


HELPERS = {
    "item_label": item_label,
    "left_text": left_text,
    "status_labels": STATUS_LABELS,
    "duty_labels": DUTY_LABELS,
    "field_labels": FIELD_LABELS,
}


def _may_act(actor: User, vehicle: Vehicle) -> bool:
    return actor.role == Role.DRIVER and is_own_customer(actor, vehicle.owner)


def _panel_context(session: Session, actor: User, vehicle: Vehicle) -> dict:
    settings = current_settings()
    now = utcnow()
    items = list_due(session, vehicle, local_date(now, settings.zone), settings.zone)
    due = [item for item in items if item.status != Status.OK]
    return {
        "vin": vehicle.vin,
        "items": items,
        "due_count": len(due),
        "book_service": due[0].item.shop_service if due else None,
        "may_act": _may_act(actor, vehicle),
        "duty_cycle": plans.plan_of_vehicle(session, vehicle).duty_cycle if items else None,
        "duty_cycles": list(DutyCycle),
        "odometer": meters.current_meter(session, vehicle, MeterKind.KM),
        "hours": meters.current_meter(session, vehicle, MeterKind.HOURS),
    }


def maintenance_panel(session: Session, actor: User, vehicle: Vehicle) -> str:
    """Render the truck page's maintenance section (nothing when no plan covers the truck's model)."""
    context = _panel_context(session, actor, vehicle)
    if not context["items"]:
        return ""
    return _render("maintenance/_panel.html", **context)


@pages.route("/maintenance")
def my_maintenance():
    """List the signed-in driver's trucks with what each has due."""
    actor = page_actor(Role.DRIVER)
    if isinstance(actor, Response):
        return actor
    session = db_session()
    customer = find_customer_for_user(session, actor)
    trucks = [
        {"vehicle": vehicle, **_panel_context(session, actor, vehicle)}
        for vehicle in (list_vehicles_of(session, customer) if customer else [])
    ]
    return _render("maintenance/mine.html", trucks=trucks)


def _reading_value(name: str) -> int | None:
    text = (request.form.get(name) or "").replace(",", "").strip()
    if not text:
        return None
    if not text.isdigit() or len(text) > 9:
        raise InvalidInput("a meter reading is a whole number from 0 to %(max)s", field=name, max=meters.MAX_VALUE)
    return int(text)


@pages.route("/maintenance/vehicles/<vin>", methods=["GET", "POST"])
def vehicle_page(vin: str):
    """Show a truck's maintenance; its driver records the odometer and engine hours here."""
    actor = page_actor(*Role)
    if isinstance(actor, Response):
        return actor
    session = db_session()
    vehicle = get_vehicle_for(session, actor, vin)
    error = None
    if request.method == "POST":
        check_csrf()
        try:
            if not _may_act(actor, vehicle):
                raise NotFound("no vehicle with VIN %(vin)r that you may see", field="vin", vin=vin)
            values = {kind: _reading_value(meters.FIELD_OF[kind]) for kind in MeterKind}
            if all(value is None for value in values.values()):
                raise InvalidInput("enter the odometer or the engine hours", field="odometer_km")
            now = utcnow()
            for kind, value in values.items():
                if value is not None:
                    meters.record_reading(
                        session, actor, vehicle, kind, value, now, ReadingSource.DRIVER, now=now,
                        max_km_per_day=current_settings().max_km_per_day,
                    )  # fmt: skip
            flash(gettext("Reading recorded."), "success")
            return redirect(url_for("crm.show_vehicle", vin=vehicle.vin, _anchor="maintenance"))
        except MilepostError as problem:
            discard_request_writes(problem)
            error = problem
    context = _panel_context(session, actor, vehicle)
    return _render("maintenance/vehicle.html", vehicle=vehicle, error=error, **context), (
        error.status if error else 200
    )


@pages.route("/maintenance/vehicles/<vin>/duty-cycle", methods=["POST"])
def change_duty_cycle(vin: str):
    """Move the driver's truck to the plan of another duty cycle, then go back to the truck page."""
    check_csrf()
    actor = require_role(current_actor(), Role.DRIVER, Role.OEM_ADMIN)
    session = db_session()
    vehicle = get_vehicle_for(session, actor, vin)
    try:
        schedule.set_duty_cycle(
            session, actor, vehicle, request.form.get("duty_cycle", ""), current_settings().zone, utcnow()
        )
    except InvalidInput as problem:
        discard_request_writes(problem)
        context = _panel_context(session, actor, vehicle)
        return _render("maintenance/vehicle.html", vehicle=vehicle, error=problem, **context), problem.status
    flash(gettext("Duty cycle changed."), "success")
    return redirect(url_for("crm.show_vehicle", vin=vehicle.vin, _anchor="maintenance"))


def _shops_for(session: Session, service: str) -> dict | None:
    """Return the shops ahead on the driver's road offering `service` (the nearest ones when off the expressways)."""
    arguments = (request.args.get(name) for name in ("lat", "lon", "heading"))
    return shops_for_service(session, service, *arguments, look_ahead_km=LOOK_AHEAD_KM, shown=SHOPS_SHOWN)


@pages.route("/maintenance/vehicles/<vin>/book")
def book(vin: str):
    """Find shops ahead on the driver's road that offer the service due, and go on to book one of them."""
    actor = page_actor(Role.DRIVER)
    if isinstance(actor, Response):
        return actor
    session = db_session()
    vehicle = get_vehicle_for(session, actor, vin)
    service = request.args.get("service") or Service.MAINTENANCE
    error, shops = None, None
    try:
        if service not in Service.__members__.values():
            raise InvalidInput("unknown service %(service)r", field="service", service=service[:20])
        shops = _shops_for(session, service)
    except InvalidInput as problem:
        error = problem
    context = _panel_context(session, actor, vehicle)
    items = [due for due in context["items"] if due.item.shop_service == service and due.status != Status.OK]
    return _render("maintenance/book.html", vehicle=vehicle, service=service, items=items, shops=shops, error=error), (
        error.status if error else 200
    )


@pages.route("/maintenance/plans")
def list_plans():
    """Show the OEM's current maintenance plans with their items."""
    actor = page_actor(Role.OEM_ADMIN)
    if isinstance(actor, Response):
        return actor
    return _render("maintenance/plans.html", plans=plans.list_current_plans(db_session()))


def _form_items() -> list[dict]:
    items = []
    for position in range(int(request.form.get("rows") or 0)):
        values = {name: (request.form.get(f"items-{position}-{name}") or "").strip() for name in ITEM_FIELDS}
        if not values["service_code"]:
            continue
        item: dict = {"rule": request.form.get(f"items-{position}-rule") or Rule.FIRST}
        for name, text in values.items():
            if name in plans.WHOLE_FIELDS:
                if text and not text.isdigit():
                    raise InvalidInput("a positive whole number is needed", field=f"items[{position}].{name}")
                item[name] = int(text) if text else None
            else:
                item[name] = text or (Service.MAINTENANCE if name == "shop_service" else "")
        items.append(item)
    return items


@pages.route("/maintenance/plans/edit", methods=["GET", "POST"])
def edit_plan():
    """Edit a plan (publishing it as a new version) or write a new one."""
    actor = page_actor(Role.OEM_ADMIN)
    if isinstance(actor, Response):
        return actor
    session = db_session()
    code = request.values.get("code", "")
    plan = plans.find_current_plan(session, code) if code else None
    error = None
    if request.method == "POST":
        check_csrf()
        try:
            published = plans.publish_plan(
                session, require_role(current_actor(), Role.OEM_ADMIN), code=code,
                model_prefix=request.form.get("model_prefix", ""), duty_cycle=request.form.get("duty_cycle", ""),
                name_zh=request.form.get("name_zh", ""), name_en=request.form.get("name_en", ""),
                items=_form_items(), now=utcnow(),
            )  # fmt: skip
            flash(
                gettext("Plan %(code)s version %(version)s published.", code=published.code, version=published.version)
            )
            return redirect(url_for("maintenance.list_plans"))
        except MilepostError as problem:
            discard_request_writes(problem)
            error = problem
    return _render(
        "maintenance/edit_plan.html",
        plan=plan,
        code=code,
        form=request.form if request.method == "POST" else None,
        error=error,
        fields=ITEM_FIELDS,
        services=list(Service),
        duty_cycles=list(DutyCycle),
    ), (error.status if error else 200)
