"""CRM pages: driver self-registration, and the staff's organization list, vehicle search and records."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, g, redirect, render_template, request, url_for
from flask import session as cookie_session
from flask_babel import get_locale, gettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy.orm import Session

from app import one_time_codes
from app.crm import customers, notifications, organizations, personal_data, vehicles
from app.crm.models import OrganizationKind, Vehicle
from app.crm.places import place_name
from app.crm.regions import PROVINCES, find_province
from app.crm.relations import is_related_customer
from app.crm.web import personal_data_download
from app.db import utcnow
from app.errors import InvalidInput, MilepostError, NotFound
from app.one_time_codes import CodePurpose
from app.security import STAFF_ROLES, Role, User, is_oem, require_actor, require_role
from app.web.auth import start_browser_session
from app.web.context import client_address, current_actor, db_session, phone_code_rules, settings, sms_sender
from app.web.csrf import check_csrf
from app.web.endpoints import parse_query
from app.web.navigation import NavLink
from app.web.pagination import PageQuery, paginate
from app.web.transaction import discard_request_writes

pages = Blueprint("crm", __name__, template_folder="templates")

STAFF = tuple(sorted(STAFF_ROLES))
# Top-bar links this domain adds: NavLink(endpoint, label, roles).
NAVIGATION: list[NavLink] = [
    NavLink("crm.list_vehicles", _l("My vehicles"), (Role.DRIVER,)),
    NavLink("crm.list_vehicles", _l("Vehicles"), STAFF),
    NavLink("crm.list_organizations", _l("Organizations"), STAFF),
    NavLink("crm.inbox", _l("Inbox"), tuple(Role)),
]


# Sections of the vehicle page that higher domains add (installed parts, bookings, roadside help): CRM cannot
# name them, so each registers a renderer (session, actor, vehicle) -> HTML, or "" when it has nothing to show.
VehiclePanel = Callable[[Session, User, Vehicle], str]
_VEHICLE_PANELS: dict[str, tuple[int, VehiclePanel]] = {}


def register_vehicle_panel(render: VehiclePanel, key: str, order: int = 50) -> None:
    """Add (or replace, by key) a section of the vehicle page; lower `order` shows first."""
    _VEHICLE_PANELS[key] = (order, render)


def vehicle_panels(session: Session, actor: User, vehicle: Vehicle) -> list[Markup]:
    """Render the registered sections of a vehicle's page for an actor who may see the vehicle."""
    ordered = sorted(_VEHICLE_PANELS.items(), key=lambda item: (item[1][0], item[0]))
    rendered = (render(session, actor, vehicle) for _key, (_order, render) in ordered)
    return [Markup(html) for html in rendered if html]


KIND_LABELS = {
    OrganizationKind.OEM: _l("OEM"),
    OrganizationKind.FACTORY: _l("Factory"),
    OrganizationKind.WAREHOUSE: _l("Parts warehouse"),
    OrganizationKind.DEALER: _l("Dealer"),
    OrganizationKind.SHOP: _l("Service shop"),
    OrganizationKind.FLEET: _l("Fleet"),
}


@pages.context_processor
def _crm_template_helpers() -> dict:
    return {"kind_labels": KIND_LABELS, "province_label": province_label}


def province_label(name: str | None) -> str:
    """Return a province's name in the page's language."""
    province = find_province(name)
    if province is None:
        return name or "—"
    return province.name_zh if get_locale().language == "zh" else province.name


def place_label(name: str | None, province: str | None = None) -> str:
    """Return a city's or province's name in the page's language (`province` tells apart cities of one name)."""
    return place_name(name, get_locale().language, province)


# Every domain's pages show provinces and cities: `{{ name | province_label }}`, `{{ city | place_label(province) }}`.
pages.add_app_template_filter(province_label, "province_label")
pages.add_app_template_filter(place_label, "place_label")


class OrganizationPageQuery(PageQuery):
    kind: str | None = None
    province: str | None = None
    q: str | None = None


class SearchPageQuery(PageQuery):
    q: str | None = None


@pages.route("/register", methods=["GET", "POST"])
def register():
    """Let a driver sign up: text a code to the phone, then create the account with it and sign them in."""
    error, form, code_sent = None, {}, False
    if request.method == "POST":
        check_csrf()
        form = {"name": request.form.get("name", ""), "phone": request.form.get("phone", "")}
        try:
            if request.form.get("action") == "send_code":
                one_time_codes.send_phone_code(
                    db_session(),
                    sms_sender(),
                    form["phone"],
                    CodePurpose.REGISTER,
                    client_address(),
                    phone_code_rules(),
                )
                code_sent = True
            else:
                customer = customers.sign_up_driver(
                    db_session(),
                    name=form["name"],
                    phone=form["phone"],
                    password=request.form.get("password", ""),
                    code=request.form.get("code", ""),
                    client=client_address(),
                    rules=phone_code_rules(),
                    per_client_hour=settings()["REGISTRATIONS_PER_CLIENT_HOUR"],
                )
                return start_browser_session(customer.user)
        except MilepostError as failure:
            discard_request_writes(failure)
            error = failure
    page = render_template("crm/register.html", error=error, form=form, code_sent=code_sent)
    return page, (error.status if error else 200)


@pages.route("/crm/organizations")
def list_organizations():
    """List the network's organizations, by kind and province."""
    require_role(current_actor(), *STAFF)
    query = parse_query(OrganizationPageQuery)
    statement = organizations.select_organizations(query.kind, query.province, query.q)
    result = paginate(db_session(), statement, query, lambda organization: organization)
    return render_template(
        "crm/organizations.html", result=result, query=query, kinds=list(OrganizationKind), provinces=PROVINCES
    )


@pages.route("/crm/vehicles")
def list_vehicles():
    """Find vehicles and customers by VIN, plate or phone (drivers: list their own vehicles)."""
    actor = require_actor(current_actor())
    query = parse_query(SearchPageQuery)
    session = db_session()
    if actor.role != Role.DRIVER and not query.q:
        return render_template("crm/vehicles.html", result=None, matches=[], query=query)
    result = paginate(
        session,
        vehicles.select_vehicles_for(actor, query.q),
        query,
        lambda vehicle: vehicles.vehicle_to_dict(session, vehicle, actor),
    )
    matches = [
        customers.customer_to_dict(customer, actor, is_related_customer(session, actor, customer))
        for customer in customers.search_customers(session, actor, query.q)
    ]
    return render_template("crm/vehicles.html", result=result, matches=matches, query=query)


@pages.route("/crm/vehicles/new", methods=["GET", "POST"])
def add_vehicle():
    """Let a driver add a truck by VIN; a mistyped VIN is explained (which character, what it should be)."""
    actor = require_role(current_actor(), Role.DRIVER)
    error, form = None, {}
    if request.method == "POST":
        check_csrf()
        form = {name: request.form.get(name, "") for name in ("vin", "model", "plate", "engine_serial")}
        session = db_session()
        try:
            owner = customers.find_customer_for_user(session, actor)
            if owner is None:
                raise NotFound("no customer record for this account", field="owner_id")
            vehicle = vehicles.register_vehicle(
                session,
                vin=form["vin"],
                model=form["model"],
                owner=owner,
                plate=form["plate"].strip() or None,
                engine_serial=form["engine_serial"],
                actor=actor,
            )
            return redirect(url_for("crm.show_vehicle", vin=vehicle.vin, added=1))
        except MilepostError as failure:
            discard_request_writes(failure)
            error = failure
    return render_template("crm/add_vehicle.html", error=error, form=form), (error.status if error else 200)


@pages.route("/crm/vehicles/<vin>")
def show_vehicle(vin: str):
    """Show a vehicle, who owned it when, and what other domains know of it (parts, bookings, roadside help)."""
    actor = require_actor(current_actor())
    session = db_session()
    vehicle = vehicles.get_vehicle_for(session, actor, vin)
    record = vehicles.vehicle_to_dict(session, vehicle, actor, with_history=True)
    panels = vehicle_panels(session, actor, vehicle)
    return render_template("crm/vehicle.html", vehicle=record, panels=panels, added=request.args.get("added"))


@pages.route("/crm/customers/<int:customer_id>")
def show_customer(customer_id: int):
    """Show a customer (phone masked for staff other than the OEM) and their vehicles."""
    actor = require_actor(current_actor())
    session = db_session()
    customer = customers.get_customer_for(session, actor, customer_id)
    owned = [
        vehicles.vehicle_to_dict(session, vehicle, actor) for vehicle in vehicles.list_vehicles_of(session, customer)
    ]
    return render_template(
        "crm/customer.html",
        customer=customers.customer_to_dict(customer, actor),
        vehicles=owned,
        is_self=customer.user_id == actor.id,
        may_answer_requests=is_oem(actor) and customer.erased_at is None,
        erased=customer.erased_at is not None,
    )


@pages.route("/crm/customers/<int:customer_id>/personal-data", methods=["POST"])
def answer_data_request(customer_id: int):
    """Let OEM staff answer a person's request made through the service center: a copy, or erasure."""
    actor = require_actor(current_actor())
    check_csrf()
    session = db_session()
    customer = personal_data.get_subject_for(session, actor, customer_id)
    if not is_oem(actor):
        raise NotFound("no such customer")
    reason = request.form.get("reason", "")
    if request.form.get("action") == "erase":
        _require_confirmation()
        personal_data.erase_person(session, actor, customer, settings(), utcnow(), reason=reason)
        return redirect(url_for("crm.show_customer", customer_id=customer.id))
    export = personal_data.export_personal_data(session, actor, customer, settings(), utcnow(), reason)
    return personal_data_download(export, request.form.get("format", "zip"))


def _require_confirmation() -> None:
    if request.form.get("confirm") != "1":
        raise InvalidInput("tick the box to confirm", field="confirm")


@pages.route("/me/data", methods=["GET", "POST"])
def my_data():
    """Let a driver download everything held about them, or close the account with a texted code."""
    actor = require_role(current_actor(), Role.DRIVER)
    session = db_session()
    customer = customers.find_customer_for_user(session, actor)
    if customer is None or actor.phone is None:
        raise NotFound("no customer record for this account")
    error, code_sent = None, False
    if request.method == "POST":
        check_csrf()
        action = request.form.get("action")
        try:
            if action == "export":
                export = personal_data.export_personal_data(session, actor, customer, settings(), utcnow())
                return personal_data_download(export, request.form.get("format", "zip"))
            if action == "send_code":
                one_time_codes.send_phone_code(
                    session, sms_sender(), actor.phone, CodePurpose.CLOSE_ACCOUNT, client_address(), phone_code_rules()
                )
                code_sent = True
            else:
                _require_confirmation()
                code = request.form.get("code", "")
                personal_data.close_account(session, actor, code, phone_code_rules(), settings(), utcnow())
                language = cookie_session.get("lang")
                cookie_session.clear()
                if language:
                    cookie_session["lang"] = language
                g.actor = None
                return render_template("crm/account_closed.html")
        except MilepostError as failure:
            discard_request_writes(failure)
            error = failure
    page = render_template("crm/personal_data.html", error=error, code_sent=code_sent)
    return page, (error.status if error else 200)


@pages.route("/me")
def my_record():
    """Send a driver to their own customer record."""
    actor = require_role(current_actor(), Role.DRIVER)
    customer = customers.find_customer_for_user(db_session(), actor)
    if customer is None:
        return redirect(url_for("home"))
    return redirect(url_for("crm.show_customer", customer_id=customer.id))


@pages.app_template_global("unread_notifications")
def unread_notifications() -> int:
    """Return how many inbox notifications the signed-in person has not read (0 when nobody is signed in)."""
    actor = current_actor()
    return notifications.count_unread(db_session(), actor.id) if actor is not None else 0


@pages.app_template_global("latest_notifications")
def latest_notifications(limit: int = 3) -> list[tuple[object, str]]:
    """Return the signed-in person's newest unread inbox notifications with their text in the page's language."""
    actor = current_actor()
    if actor is None:
        return []
    rows = notifications.list_inbox(db_session(), actor.id, limit=limit, unread_only=True)
    return [(row, notifications.render_text(row, gettext)) for row in rows]


@pages.route("/inbox", methods=["GET", "POST"])
def inbox():
    """Show the signed-in person's notifications, newest first; mark them read."""
    actor = require_actor(current_actor())
    session = db_session()
    error = None
    if request.method == "POST":
        check_csrf()
        try:
            if request.form.get("action") == "preferences":
                notifications.set_preferences(
                    session,
                    actor,
                    quiet_start=request.form.get("quiet_start", "")[:5] or None,
                    quiet_end=request.form.get("quiet_end", "")[:5] or None,
                    sms_enabled=request.form.get("sms") == "1",
                    now=utcnow(),
                    locale=request.form.get("locale", "")[:5] or None,
                )
            else:
                notifications.mark_read(session, actor, utcnow())
            return redirect(url_for("crm.inbox"))
        except MilepostError as problem:
            discard_request_writes(problem)
            error = problem
    rows = notifications.list_inbox(session, actor.id)
    shown = [(row, notifications.render_text(row, gettext)) for row in rows]
    preference = notifications.preference_of(session, actor.id)
    return render_template("crm/inbox.html", shown=shown, preference=preference, error=error), (
        error.status if error else 200
    )
