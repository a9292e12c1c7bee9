"""Traceability pages: the public scan page behind every part's QR code, its report-a-problem form, and the
vehicle page's installed parts."""

from __future__ import annotations

from datetime import timedelta

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from app.clock import local_today
from app.crm.models import Vehicle
from app.errors import InvalidInput
from app.geo import parse_position
from app.security import User
from app.web.context import client_address, code_keyring, current_actor, db_session, settings
from app.web.csrf import check_csrf
from app.web.navigation import NavLink
from traceability import reporting
from traceability.codes import read_identifiers
from traceability.counterfeit_budget import spent_budgets
from traceability.records import list_vehicle_parts, scan_page_records
from traceability.scans import scan_part
from traceability.settings import read_settings

pages = Blueprint("traceability", __name__, template_folder="templates")

# Top-bar links this domain adds: NavLink(endpoint, label, roles).
NAVIGATION: list[NavLink] = []

VERDICT_COLOURS = {
    "genuine": "green",
    "installed": "green",
    "suspect": "amber",
    "recalled": "red",
    "void": "red",
    "counterfeit": "red",
}

# What each reason code of a verdict (verdicts.SCAN_REASONS) means, in words a driver at the counter reads.
SCAN_REASON_TEXTS = {
    "foreign_origin": _l("The code was not issued by this manufacturer."),
    "missing_tag": _l("The code has no security tag."),
    "bad_tag": _l("The security tag does not match: the label was not printed by the manufacturer."),
    "gtin_mismatch": _l("The serial belongs to a different part type."),
    "unknown_serial": _l("No part with this serial was ever made."),
    "malformed_code": _l("This is not a valid part code."),
    "impossible_travel": _l("The same code was scanned elsewhere too recently to have travelled here."),
    "many_cities": _l("The same code has been scanned in too many cities."),
    "far_from_chain": _l("The code was scanned far from where this part was delivered."),
    "activation_after_install": _l("Someone tried to activate this part again after it was installed."),
    "offered_after_install": _l("This part is recorded as fitted to a vehicle, yet it is being offered for sale."),
    "offered_after_removal": _l("This part was taken off a vehicle, yet it is being offered for sale as new."),
    "destroyed": _l("The manufacturer recorded this part as destroyed."),
    "recalled": _l("This part is under recall."),
    "installed": _l("This part is already fitted to a vehicle."),
}


def installed_parts_panel(session: Session, actor: User, vehicle: Vehicle) -> str:
    """Render the vehicle page's section of installed parts, their warranty and any recall (the CRM page asks)."""
    parts = list_vehicle_parts(session, vehicle, local_today(settings()), settings()["TIMEZONE"])
    return render_template("traceability/_vehicle_parts.html", parts=parts)


def _link_from_request(gtin: str, serial: str):
    """Read the code in the path; an unreadable code is a verdict (counterfeit), not an error page."""
    try:
        return read_identifiers(gtin, serial, request.args.get("c", ""), request.args.get("10"), request.args.get("11"))
    except InvalidInput:
        return None


def _page_position():
    """Use the position the page sent if it is readable; a driver's bad GPS must not block the verdict."""
    try:
        return parse_position(request.args["lat"], request.args["lon"])
    except (KeyError, InvalidInput):
        return None


def _form_position():
    """Use the position the report form carried if it is readable (the report is taken without it)."""
    try:
        return parse_position(request.form["lat"], request.form["lon"])
    except (KeyError, InvalidInput):
        return None


def _wants_json() -> bool:
    return request.accept_mimetypes.best_match(["text/html", "application/json"]) == "application/json"


@pages.route("/01/<gtin>/21/<path:serial>")
def scan_page(gtin: str, serial: str):
    """Show (or, for Accept: application/json, return) the verdict for a scanned part code."""
    link = _link_from_request(gtin, serial)
    as_json = _wants_json()
    verdict, outcome = scan_part(
        db_session(),
        code_keyring(),
        link,
        position=_page_position(),
        intent=request.args.get("intent"),
        actor=current_actor(),
        settings=read_settings(settings()),
        client=client_address(),
        today=local_today(settings()),
        page=not as_json,
        spent=spent_budgets(current_app.extensions),
    )
    if as_json:
        return jsonify(verdict)
    price_range, custody = scan_page_records(db_session(), outcome, settings())
    context = {
        "result": verdict,
        "colour": VERDICT_COLOURS[verdict["verdict"]],
        "price_range": price_range,
        "custody": custody,
        "problems": reporting.PROBLEMS,
        "reason_texts": SCAN_REASON_TEXTS,
        "reported": request.args.get("reported") == "1",
        "today": local_today(settings()).isoformat(),
    }
    return render_template("traceability/scan.html", **context)


@pages.route("/01/<gtin>/21/<path:serial>/report", methods=["POST"])
def report_problem(gtin: str, serial: str):
    """Take a driver's problem report from the scan page; it raises (or bumps) an alert for the OEM."""
    check_csrf()
    link = _link_from_request(gtin, serial)
    reporting.report_problem(
        db_session(),
        link,
        gtin=gtin,
        serial=serial,
        problem=request.form.get("problem", ""),
        message=request.form.get("message", ""),
        client=client_address(),
        limit=read_settings(settings()).report_max_per_hour,
        window=timedelta(hours=1),
        position=_form_position(),
    )
    query = {key: value for key, value in request.args.items() if key in ("c", "lang")}
    return redirect(url_for("traceability.scan_page", gtin=gtin, serial=serial, reported=1, **query))
