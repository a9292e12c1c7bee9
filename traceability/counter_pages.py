"""Counter pages for shops, dealers, warehouses and factories: scan many codes, record one custody event, see
every code's outcome; the stock on hand; and the scan page that opens a part's record from the camera."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from werkzeug.wrappers import Response

from app.crm.models import Organization, OrganizationKind
from app.errors import InvalidInput, MilepostError
from app.security import Role, User
from app.web.auth import page_actor
from app.web.context import client_address, code_keyring, current_actor, db_session, settings
from app.web.csrf import check_csrf
from app.web.navigation import NavLink
from app.web.transaction import discard_request_writes
from traceability.codes import parse_digital_link
from traceability.counter import CounterRequest, CounterResult, record_counter_event, split_lines
from traceability.models import EventType, Part, PartState, PartType
from traceability.settings import read_settings

pages = Blueprint(
    "counter",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static/traceability",
)

COUNTER_ROLES = (Role.SHOP_STAFF, Role.DEALER_STAFF, Role.WAREHOUSE_STAFF, Role.FACTORY_STAFF)
# What each role records at its counter, in the order its menu shows them.
ROLE_ACTIONS: dict[str, tuple[str, ...]] = {
    Role.SHOP_STAFF: ("receive", "install", "sell", "remove", "ship", "inspect"),
    Role.DEALER_STAFF: ("receive", "ship", "sell", "install", "remove", "inspect"),
    Role.WAREHOUSE_STAFF: ("receive", "ship", "sell", "inspect"),
    Role.FACTORY_STAFF: ("ship", "receive", "inspect"),
}
ACTION_LABELS = {
    EventType.RECEIVE: _l("Receive"),
    EventType.SHIP: _l("Ship"),
    EventType.SELL: _l("Sell"),
    EventType.INSTALL: _l("Install"),
    EventType.REMOVE: _l("Remove"),
    EventType.INSPECT: _l("Inspect"),
}
ACTION_HELP = {
    EventType.RECEIVE: _l("Parts shipped to your organization arrive in your stock."),
    EventType.SHIP: _l("Parts you hold go on their way to another organization."),
    EventType.SELL: _l("Parts you hold are sold, with the price and the buyer."),
    EventType.INSTALL: _l("Each part goes onto the vehicle with its own activation code (scratch off the label)."),
    EventType.REMOVE: _l("A part comes off the vehicle, with the reason."),
    EventType.INSPECT: _l("An inspection is noted in each part's record; nothing moves."),
}
STATE_LABELS = {
    PartState.PRODUCED: _l("produced, at the factory"),
    PartState.IN_TRANSIT: _l("on its way"),
    PartState.IN_STOCK: _l("in stock"),
    PartState.SOLD: _l("sold"),
    PartState.INSTALLED: _l("installed on a vehicle"),
    PartState.REMOVED: _l("removed from a vehicle"),
    PartState.DESTROYED: _l("destroyed"),
}
# Every refusal the counter can show, in words (never the raw code the custody rules use).
REASON_LABELS = {
    "unreadable": _l("This is not a part code: scan the QR code, paste its link or type the serial."),
    "not_genuine": _l("The code's signature is wrong: this label is not genuine."),
    "unknown_part": _l("No part has this code."),
    "ambiguous_serial": _l("Several part types use this serial: scan the QR code instead."),
    "repeated": _l("Already in the list (line %(first)s)."),
    "not_holder": _l("Your organization does not hold this part."),
    "invalid_transition": _l("The part is %(state_label)s; that is not possible from there."),
    "recalled": _l("The part is under recall: it may not be sold or installed."),
    "wrong_activation_code": _l("Wrong activation code."),
    "activation_code_missing": _l("Type the part's activation code after its code."),
    "used": _l("This activation code was already used: the OEM has been told."),
    "other_vehicle": _l("The part is not installed on that vehicle."),
    "rate_limited": _l("Too many wrong activation codes: try again later."),
    "refused": _l("Refused."),
}

# Top-bar links this domain adds: NavLink(endpoint, label, roles).
NAVIGATION: list[NavLink] = [
    NavLink("counter.counter", _l("Counter"), COUNTER_ROLES),
    NavLink("counter.stock", _l("Stock"), COUNTER_ROLES),
    NavLink("counter.scan", _l("Scan a part"), (Role.DRIVER,)),
]


@pages.app_template_filter("part_state_label")
def part_state_label(state: str | None) -> str:
    """Return a part state in the page's language."""
    return str(STATE_LABELS.get(state, state or "—"))  # type: ignore[call-overload]


def reason_text(reason: str | None, details: dict) -> str:
    """Return a refusal's reason in the page's language."""
    words = str(REASON_LABELS.get(reason or "refused", REASON_LABELS["refused"]))
    values = {**details, "state_label": part_state_label(details.get("state"))}
    for name, value in values.items():
        words = words.replace(f"%({name})s", str(value))
    return words


def _actions_for(actor: User) -> tuple[str, ...]:
    return ROLE_ACTIONS.get(actor.role, ())


def _destinations(actor: User) -> list[Organization]:
    statement = (
        select(Organization)
        .where(Organization.kind != OrganizationKind.FLEET, Organization.id != actor.organization_id)
        .order_by(Organization.code)
        .limit(500)
    )
    return list(db_session().scalars(statement))


@pages.route("/counter", methods=["GET", "POST"])
def counter():
    """Show the counter form for one action and record the list of codes it was given."""
    actor = page_actor(*COUNTER_ROLES)
    if isinstance(actor, Response):
        return actor
    actions = _actions_for(actor)
    action = request.values.get("action") or actions[0]
    if action not in actions:
        action = actions[0]
    form = request.form.to_dict() if request.method == "POST" else {}
    result: CounterResult | None = None
    error: MilepostError | None = None
    if request.method == "POST":
        check_csrf()
        counter_request = CounterRequest(
            action=action,
            lines=split_lines(form.get("codes", "")),
            to=form.get("to"),
            price=form.get("price"),
            buyer_phone=form.get("buyer_phone"),
            vin=form.get("vin"),
            reason=form.get("reason"),
        )
        try:
            result = record_counter_event(
                db_session(),
                code_keyring(),
                actor,
                counter_request,
                read_settings(settings()).custody,
                client_address(),
            )
        except MilepostError as failure:
            discard_request_writes(failure)
            error = failure
        else:
            # What was accepted is recorded: the list starts empty again, the refused codes stay to be fixed.
            form["codes"] = "\n".join(_refused_lines(counter_request, result))
    page = render_template(
        "traceability/counter/counter.html",
        action=action,
        actions=actions,
        action_labels=ACTION_LABELS,
        action_help=ACTION_HELP,
        form=form,
        result=result,
        error=error,
        reason_text=reason_text,
        destinations=_destinations(actor) if action in (EventType.SHIP, EventType.SELL) else [],
    )
    return page, (error.status if error else 200)


def _refused_lines(counter_request: CounterRequest, result: CounterResult) -> list[str]:
    lines = counter_request.lines
    return [lines[outcome.line - 1] for outcome in result.outcomes if not outcome.accepted]


@pages.route("/counter/stock")
def stock():
    """Show the parts the organization holds and the parts on their way to it, by part type."""
    actor = page_actor(*COUNTER_ROLES)
    if isinstance(actor, Response):
        return actor
    session = db_session()
    held = session.execute(
        select(PartType.part_number, PartType.name_zh, PartType.name_en, Part.state, func.count())
        .select_from(Part)
        .join(PartType, PartType.id == Part.part_type_id)
        .where(Part.holder_id == actor.organization_id)
        .group_by(PartType.part_number, PartType.name_zh, PartType.name_en, Part.state)
        .order_by(PartType.part_number, Part.state)
    ).all()
    arriving = session.execute(
        select(PartType.part_number, PartType.name_zh, PartType.name_en, func.count())
        .select_from(Part)
        .join(PartType, PartType.id == Part.part_type_id)
        .where(Part.destination_id == actor.organization_id, Part.state == PartState.IN_TRANSIT)
        .group_by(PartType.part_number, PartType.name_zh, PartType.name_en)
        .order_by(PartType.part_number)
    ).all()
    return render_template("traceability/counter/stock.html", held=held, arriving=arriving)


@pages.route("/scan")
def scan():
    """Read a part's QR code with the camera (or a pasted link) and open its record."""
    code = (request.args.get("code") or "").strip()
    error = None
    if code:
        try:
            link = parse_digital_link(code, field="code")
        except InvalidInput as failure:
            error = failure
        else:
            query = {"c": link.tag} if link.tag else {}
            return redirect(url_for("traceability.scan_page", gtin=link.gtin, serial=link.serial, **query))
    page = render_template("traceability/counter/scan.html", code=code, error=error, actor=current_actor())
    return page, (error.status if error else 200)
