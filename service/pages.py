"""Service pages: a driver's new request and "my requests" (phone), the agent console (desktop), the survey
link, and the OEM's figures."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy import select
from werkzeug.wrappers import Response

from app.crm.customers import find_customer_for_user
from app.crm.vehicles import list_vehicles_of
from app.db import utcnow
from app.errors import InvalidInput, MilepostError
from app.geo import parse_position
from app.security import Role, User
from app.web.auth import page_actor
from app.web.context import db_session
from app.web.csrf import check_csrf
from app.web.navigation import NavLink
from app.web.transaction import discard_request_writes
from network.models import Booking
from service import access, assignment, canned, intake, merging, replies, surveys
from service.answers import find_knowledge_answers
from service.attachments import MAX_PHOTOS, store_photo
from service.figures import DIMENSIONS, compute_figures
from service.models import OPEN_STATUSES, Category, Channel, LinkKind, RequestStatus, ServiceRequest, SlaClock
from service.notices import list_notifications
from service.queues import memberships_of, set_presence
from service.replies import AGENT_STATUSES, OUTCOMES
from service.timeline import build_timeline
from service.web import clocks_to_list, conversions, current_settings, routes

pages = Blueprint(
    "service", __name__, template_folder="templates", static_folder="static", static_url_path="/service/static"
)
STAFF = (Role.OEM_ADMIN, Role.SHOP_STAFF, Role.DEALER_STAFF)

NAVIGATION: list[NavLink] = [
    NavLink("service.my_requests", "My requests", (Role.DRIVER,)),
    NavLink("service.console", "Service console", STAFF),
    NavLink("service.figures", "Service figures", (Role.OEM_ADMIN,)),
]
CATEGORY_LABELS = {
    Category.FAULT: _l("Fault or warning light"),
    Category.ROADSIDE: _l("Broken down on the road"),
    Category.BRAKES_STEERING: _l("Brakes or steering"),
    Category.BOOKING: _l("A booking"),
    Category.COUNTERFEIT: _l("A part that may be fake"),
    Category.RECALL: _l("A recall"),
    Category.PARTS: _l("Parts"),
    Category.COMPLAINT: _l("A complaint about a shop"),
    Category.OTHER: _l("Something else"),
}
STATUS_LABELS = {
    RequestStatus.NEW: _l("New"),
    RequestStatus.OPEN: _l("Open"),
    RequestStatus.WAITING_ON_CUSTOMER: _l("Waiting on the customer"),
    RequestStatus.WAITING_ON_PARTS: _l("Waiting on parts"),
    RequestStatus.WAITING_ON_THIRD_PARTY: _l("Waiting on a third party"),
    RequestStatus.RESOLVED: _l("Resolved"),
    RequestStatus.CLOSED: _l("Closed"),
    RequestStatus.DEFLECTED: _l("Solved by the knowledge base"),
    RequestStatus.MERGED: _l("Merged"),
}
CLOCK_LABELS = {
    "first_response": _l("First response"),
    "next_response": _l("Next response"),
    "resolution": _l("Resolution"),
}
CLOCK_STATUS_LABELS = {
    "running": _l("running"),
    "warning": _l("due soon"),
    "breached": _l("breached"),
    "paused": _l("paused"),
    "met": _l("met"),
    "met_late": _l("met late"),
}
OUTCOME_LABELS = {"upheld": _l("Upheld"), "not_upheld": _l("Not upheld"), "settled": _l("Settled")}
CHANNEL_LABELS = {
    Channel.PAGE: _l("Web page"),
    Channel.API: _l("Integration (API)"),
    Channel.PHONE: _l("Phone"),
    Channel.CALLBACK: _l("Call-back request"),
    Channel.WECOM: _l("WeCom customer service"),
    Channel.SCAN_REPORT: _l("Report from a part scan"),
    Channel.ROADSIDE: _l("Roadside help"),
    Channel.BOOKING: _l("Booking"),
    Channel.REVIEW: _l("Review"),
}
LINK_LABELS = {
    LinkKind.SCAN: _l("Scan"),
    LinkKind.ALERT: _l("Alert"),
    LinkKind.PART: _l("Part"),
    LinkKind.BOOKING: _l("Booking"),
    LinkKind.ASSISTANCE: _l("Roadside help"),
    LinkKind.RECALL: _l("Recall"),
    LinkKind.REVIEW: _l("Review"),
    LinkKind.FAULT: _l("Fault code"),
    LinkKind.SHOP: _l("Shop"),
}
# A linked booking's state, as the network's pages say it.
BOOKING_STATUS_LABELS = {
    "requested": _l("requested"),
    "confirmed": _l("confirmed"),
    "rejected": _l("rejected"),
    "checked_in": _l("checked_in"),
    "completed": _l("completed"),
    "cancelled": _l("cancelled"),
    "no_show": _l("no_show"),
}
# What each timeline event says (service.timeline.record_event's kinds).
EVENT_LABELS = {
    "opened": _l("Opened from"),
    "queued": _l("Queued to"),
    "assigned": _l("Assigned to"),
    "status": _l("Status"),
    "linked": _l("Linked"),
    "converted": _l("Converted to"),
    "outcome": _l("Outcome"),
    "merged_into": _l("Merged into"),
    "merged_from": _l("Merged from"),
    "phone_revealed": _l("Phone number shown to staff"),
    "sla_met": _l("Time limit met"),
    "sla_breached": _l("Time limit missed"),
    "sla_escalated": _l("Escalated: time limit missed"),
}
LABELS = {
    "categories": CATEGORY_LABELS,
    "statuses": STATUS_LABELS,
    "clocks": CLOCK_LABELS,
    "clock_statuses": CLOCK_STATUS_LABELS,
    "outcomes": OUTCOME_LABELS,
    "channels": CHANNEL_LABELS,
    "links": LINK_LABELS,
    "booking_statuses": BOOKING_STATUS_LABELS,
    "events": EVENT_LABELS,
}


@pages.app_template_filter("event_value")
def event_value(value: str | None, kind: str) -> str:
    """Return a timeline event's value in the page's language (a status, channel, clock or "booking:12")."""
    if not value:
        return ""
    if kind == "status":
        return str(STATUS_LABELS.get(value, value))
    if kind == "opened":
        return str(CHANNEL_LABELS.get(value, value))
    if kind in ("sla_met", "sla_breached", "sla_escalated"):
        return str(CLOCK_LABELS.get(value, value))
    if kind == "outcome":
        return str(OUTCOME_LABELS.get(value, value))
    if kind == "converted":
        return str(CATEGORY_LABELS.get(value, value))
    if kind == "linked" and ":" in value:
        link, _, number = value.partition(":")
        return f"{LINK_LABELS.get(link, link)} #{number}"
    return value


@pages.app_context_processor
def _labels() -> dict:
    return {"service_labels": LABELS}


@pages.app_template_filter("survey_links")
def survey_links(text: str) -> Markup:
    """Return a message with this installation's survey links made clickable (everything else escaped)."""
    prefix = re.escape(current_settings().public_base_url + "/service/survey/")
    escaped = str(escape(text))
    return Markup(re.sub(f"({prefix}[A-Za-z0-9_-]+)", r'<a class="survey-link" href="\1">\1</a>', escaped))


@pages.app_template_filter("local_time")
def local_time(value) -> str:
    """Return a UTC timestamp as local date and minute in the configured TIMEZONE."""
    if not value:
        return ""
    return value.astimezone(current_settings().zone).strftime("%Y-%m-%d %H:%M")


def _locale() -> str:
    return "en" if str(get_locale()).startswith("en") else "zh"


def _position():
    if request.form.get("lat") or request.form.get("lon"):
        position = parse_position(request.form.get("lat"), request.form.get("lon"))
        return position.lat, position.lon
    return None, None


@pages.route("/service/new", methods=["GET", "POST"])
def new_request():
    """Show the driver's request form (a fault code from the fault page comes as ?code=) and open the request."""
    actor = page_actor(Role.DRIVER)
    if isinstance(actor, Response):
        return actor
    session = db_session()
    customer = find_customer_for_user(session, actor)
    vehicles = list_vehicles_of(session, customer) if customer else []
    code = request.args.get("code", "")[:40]
    error = None
    if request.method == "POST":
        check_csrf()
        try:
            lat, lon = _position()
            callback = request.form.get("callback") == "1"
            photos = [photo for photo in request.files.getlist("photo") if photo.filename][:MAX_PHOTOS]
            codes = [part for part in (request.form.get("codes") or "").split(",") if part.strip()]
            booking = _own_booking(session, actor, request.form.get("booking", ""))
            if booking is not None and booking.status in ("rejected", "cancelled", "no_show"):
                created = intake.open_from_disputed_booking(
                    session, actor, booking, request.form.get("text", ""), current_settings(), utcnow()
                )
                return redirect(url_for("service.my_request", request_id=created.id))
            created = intake.submit_driver_request(
                session,
                actor,
                category=request.form.get("category", "other" if callback else ""),
                text=request.form.get("text", ""),
                vin=request.form.get("vin") or None,
                lat=lat,
                lon=lon,
                channel="callback" if callback else "page",
                settings=current_settings(),
                now=utcnow(),
                codes=codes,
                locale=_locale(),
                callback=callback,
                conversions=conversions(session),
                routes=routes(session),
            )
            for photo in photos:
                store_photo(
                    session,
                    created,
                    photo.read(current_settings().photo_max_bytes + 1),
                    current_settings().photo_max_bytes,
                )
            return redirect(url_for("service.my_request", request_id=created.id))
        except MilepostError as problem:
            discard_request_writes(problem)
            error = problem
    try:
        booking = _own_booking(session, actor, request.values.get("booking", ""))
    except MilepostError:
        booking = None
    return render_template(
        "service/new.html", vehicles=vehicles, code=code, error=error, categories=CATEGORY_LABELS, booking=booking
    ), (error.status if error else 200)


def _own_booking(session, actor: User, text: str) -> Booking | None:
    """Return the driver's booking named by `text` (from a bookings page link), or None."""
    if not (text.isascii() and text.isdigit() and len(text) < 18):
        return None
    booking = session.get(Booking, int(text))
    if booking is None or booking.customer.user_id != actor.id:
        raise InvalidInput("pick one of your own bookings", field="booking")
    return booking


@pages.route("/service/mine")
def my_requests():
    """List the driver's requests, newest first."""
    actor = page_actor(Role.DRIVER)
    if isinstance(actor, Response):
        return actor
    session = db_session()
    customer = find_customer_for_user(session, actor)
    found = []
    if customer is not None:
        found = session.scalars(
            select(ServiceRequest)
            .where(ServiceRequest.customer_id == customer.id)
            .order_by(ServiceRequest.created_at.desc())
            .limit(100)
        ).all()
    return render_template("service/mine.html", requests=found)


@pages.route("/service/mine/<int:request_id>", methods=["GET", "POST"])
def my_request(request_id: int):
    """Show one request to its driver (answers from the knowledge base, messages) and take a reply or "solved"."""
    actor = page_actor(Role.DRIVER)
    if isinstance(actor, Response):
        return actor
    session = db_session()
    item = access.get_request_for(session, actor, request_id)
    if item.merged_into_id is not None:
        return redirect(url_for("service.my_request", request_id=item.merged_into_id))
    error = None
    if request.method == "POST":
        check_csrf()
        try:
            if request.form.get("action") == "solved":
                replies.deflect_request(session, actor, item, utcnow())
            else:
                replies.add_customer_message(
                    session, actor, item, request.form.get("body", ""), current_settings(), utcnow()
                )
            return redirect(url_for("service.my_request", request_id=item.id))
        except MilepostError as problem:
            discard_request_writes(problem)
            error = problem
    answers = []
    if item.status in (RequestStatus.NEW, RequestStatus.OPEN) and item.first_responded_at is None:
        answers = find_knowledge_answers(session, item.body or item.subject, item.fault_codes, item.locale)
    timeline = build_timeline(session, item, customer_view=True)
    return render_template("service/request.html", item=item, timeline=timeline, answers=answers, error=error), (
        error.status if error else 200
    )


def _console_lists(session, actor):
    queue_ids = [member.queue_id for member in memberships_of(session, actor)]
    open_values = [status.value for status in OPEN_STATUSES]
    mine = session.scalars(
        select(ServiceRequest)
        .where(ServiceRequest.assignee_id == actor.id, ServiceRequest.status.in_(open_values))
        .order_by(ServiceRequest.created_at)
    ).all()
    waiting = session.scalars(
        select(ServiceRequest)
        .where(
            ServiceRequest.queue_id.in_(queue_ids),
            ServiceRequest.assignee_id.is_(None),
            ServiceRequest.status.in_(open_values),
        )
        .order_by(ServiceRequest.created_at)
        .limit(100)
    ).all()
    visible = [r for r in waiting if access.may_see_request(session, actor, r)]
    breached = []
    if actor.role == Role.OEM_ADMIN:
        # The OEM desk's board: every open request with a clock past due, whatever its queue.
        past_due = (
            select(SlaClock.id)
            .where(
                SlaClock.request_id == ServiceRequest.id, SlaClock.breached_at.is_not(None), SlaClock.met_at.is_(None)
            )
            .exists()
        )
        breached = session.scalars(
            select(ServiceRequest)
            .where(past_due, ServiceRequest.status.in_(open_values))
            .order_by(ServiceRequest.created_at)
            .limit(100)
        ).all()
        breached = [r for r in breached if access.may_see_request(session, actor, r)]
    return mine, visible, breached


@pages.route("/service/console", methods=["GET", "POST"])
def console():
    """Show the agent's queue: their open requests, the waiting backlog (oldest first), presence, a call log form."""
    actor = page_actor(*STAFF)
    if isinstance(actor, Response):
        return actor
    session = db_session()
    error = None
    if request.method == "POST":
        check_csrf()
        try:
            if request.form.get("action") == "presence":
                set_presence(session, actor, request.form.get("presence", ""))
                return redirect(url_for("service.console"))
            created = intake.log_phone_call(
                session,
                actor,
                phone=request.form.get("phone", ""),
                caller_name=request.form.get("name", ""),
                category=request.form.get("category", "other"),
                text=request.form.get("text", ""),
                vin=request.form.get("vin") or None,
                settings=current_settings(),
                now=utcnow(),
            )
            return redirect(url_for("service.console_request", request_id=created.id))
        except MilepostError as problem:
            discard_request_writes(problem)
            error = problem
    mine, waiting, breached = _console_lists(session, actor)
    now = utcnow()
    settings = current_settings()
    clocks = {r.id: clocks_to_list(r, settings, now) for r in [*mine, *waiting, *breached]}
    return render_template(
        "service/console.html",
        mine=mine,
        waiting=waiting,
        breached=breached,
        clocks=clocks,
        error=error,
        memberships=memberships_of(session, actor),
        notices=list_notifications(session, actor.id),
        categories=CATEGORY_LABELS,
    ), (error.status if error else 200)


def _context(session, item: ServiceRequest) -> dict:
    """Return the truck side panel: the customer's trucks and the records linked to the request."""
    trucks = list_vehicles_of(session, item.customer) if item.customer is not None else []
    bookings = []
    if trucks:
        bookings = session.scalars(
            select(Booking)
            .where(Booking.vehicle_id.in_([t.id for t in trucks]))
            .order_by(Booking.start.desc())
            .limit(5)
        ).all()
    return {"trucks": trucks, "bookings": bookings, "links": item.links}


@pages.route("/service/console/<int:request_id>", methods=["GET", "POST"])
def console_request(request_id: int):
    """Show one request to an agent with the truck's context beside it, and the composer."""
    actor = page_actor(*STAFF)
    if isinstance(actor, Response):
        return actor
    session = db_session()
    settings = current_settings()
    item = access.get_request_for(session, actor, request_id)
    if item.merged_into_id is not None:
        return redirect(url_for("service.console_request", request_id=item.merged_into_id))
    error, phone = None, None
    answers = canned.list_canned_answers(session, actor)
    values = canned.placeholder_values(session, item, actor, settings.zone)
    chosen = request.values.get("canned", "")
    draft = request.form.get("body", "")
    rendered = None
    picked = next((answer for answer in answers if answer.shortcut == chosen), None)
    if picked is not None:
        rendered = canned.render_canned_answer(picked, item.locale, values)
        if request.method == "GET" or not draft:
            draft = rendered.text
    if request.method == "POST":
        check_csrf()
        action = request.form.get("action", "")
        try:
            now = utcnow()
            if action == "take":
                assignment.take_request(session, actor, item, now)
            elif action == "reply":
                replies.add_reply(
                    session, actor, item, draft, request.form.get("visibility", "customer"), settings, now
                )
            elif action == "status":
                replies.change_status(
                    session,
                    actor,
                    item,
                    request.form.get("status", ""),
                    settings,
                    now,
                    outcome=request.form.get("outcome") or None,
                )
            elif action == "reveal":
                phone = access.reveal_phone(session, actor, item)
            elif action == "merge":
                target_text = request.form.get("target", "")
                if not (target_text.isascii() and target_text.isdigit() and len(target_text) < 18):
                    raise InvalidInput("pick a request to merge into", field="target")
                target = access.get_request_for(session, actor, int(target_text))
                merging.merge_requests(session, actor, item, target, settings, now)
                return redirect(url_for("service.console_request", request_id=target.id))
            elif action != "canned":
                raise InvalidInput("unknown action", field="action")
            if action not in ("reveal", "canned"):
                return redirect(url_for("service.console_request", request_id=item.id))
        except MilepostError as problem:
            discard_request_writes(problem)
            error = problem
    return render_template(
        "service/console_request.html",
        item=item,
        timeline=build_timeline(session, item),
        clocks=clocks_to_list(item, settings, utcnow()),
        context=_context(session, item),
        answers=answers,
        rendered=rendered,
        draft=draft,
        chosen=chosen,
        error=error,
        phone=phone or access.shown_phone(actor, item),
        statuses=sorted(AGENT_STATUSES),
        outcomes=OUTCOMES,
        suggestions=merging.merge_suggestions(session, item, settings),
        may_work=access.may_work_request(session, actor, item),
        link_kinds=LinkKind,
    ), (error.status if error else 200)


@pages.route("/service/survey/<token>", methods=["GET", "POST"])
def survey(token: str):
    """Show the satisfaction survey of a resolved request (no sign-in: the link is the key) and take the answer."""
    session = db_session()
    now = utcnow()
    error, done = None, False
    found = surveys.find_survey(session, token)
    if request.method == "POST":
        check_csrf()
        try:
            stars_text = request.form.get("stars", "")
            if not (stars_text.isascii() and stars_text.isdigit() and len(stars_text) == 1):
                raise InvalidInput("stars are 1 to 5", field="stars")
            surveys.answer_survey(
                session,
                token,
                solved=request.form.get("solved") == "yes",
                stars=int(stars_text),
                comment=request.form.get("comment", ""),
                now=now,
            )
            done = True
        except MilepostError as problem:
            discard_request_writes(problem)
            error = problem
    closed = None
    if not done:
        try:
            surveys.check_open(found, now)
        except MilepostError as problem:
            closed = problem
    status = error.status if error else (closed.status if closed else 200)
    return render_template("service/survey.html", survey=found, done=done, error=error, closed=closed), status


@pages.route("/service/figures")
def figures():
    """Show the OEM's service figures over the last N days, by queue, agent, category and channel."""
    actor = page_actor(Role.OEM_ADMIN)
    if isinstance(actor, Response):
        return actor
    days_text = request.args.get("days", "30")
    days = int(days_text) if days_text.isascii() and days_text.isdigit() and 0 < int(days_text) <= 366 else 30
    now = utcnow()
    table = compute_figures(db_session(), now - timedelta(days=days), now)
    return render_template("service/figures.html", table=table, dimensions=DIMENSIONS, days=days)
