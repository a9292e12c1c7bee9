"""The shop console: today's and coming bookings with their next steps, and roadside jobs offered to the shop."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from flask import flash, redirect, render_template, request, url_for
from sqlalchemy import or_
from werkzeug.wrappers import Response

from app.db import utcnow
from app.errors import Forbidden
from app.security import Role, require_role
from app.web.context import current_actor, db_session
from app.web.csrf import check_csrf
from network import acceptance, assistance, booking, rendering
from network.links import shop_links
from network.models import Booking, OfferStatus
from network.pages import DONE_MESSAGES, page_actor, pages
from network.shops import find_shop_of_organization, get_shop
from network.web import current_settings

# Roadside offers expire within minutes: the console reloads itself this often (a meta refresh, no script).
CONSOLE_REFRESH_SECONDS = 30
NEXT_STEPS = {
    "requested": ("confirm", "reject"),
    "confirmed": ("check-in", "no-show", "reject"),
    "checked_in": ("complete",),
}
# How many past days' unfinished bookings the console still lists.
UNFINISHED_DAYS = 7


def _console_shop(actor):
    if request.args.get("shop") and actor.role == Role.OEM_ADMIN:
        return get_shop(db_session(), request.args["shop"], field="shop")
    shop = find_shop_of_organization(db_session(), actor.organization_id)
    if shop is None:
        raise Forbidden("your account does not belong to a shop")
    return shop


@pages.route("/console")
def console():
    """Show the shop's bookings for today and the next days, and its roadside offers."""
    actor = page_actor(Role.SHOP_STAFF, Role.OEM_ADMIN)
    if isinstance(actor, Response):
        return actor
    session = db_session()
    settings = current_settings()
    shop = _console_shop(actor)
    today = datetime.combine(utcnow().astimezone(settings.zone).date(), time(0), tzinfo=settings.zone)
    # Today's and the coming days' bookings, and the last days' still waiting for a step: a truck checked in at
    # 23:00 must not vanish from the console at midnight before the shop completes it.
    statement = booking.select_bookings_for(actor, shop).where(
        Booking.start >= today - timedelta(days=UNFINISHED_DAYS),
        Booking.start < today + timedelta(days=7),
        or_(Booking.start >= today, Booking.status.in_(NEXT_STEPS)),
    )
    now = utcnow()
    items = [
        {**rendering.booking_to_dict(item, settings.zone, actor), "steps": _next_steps(item, now)}
        for item in session.scalars(statement)
    ]
    requests = [
        rendering.request_to_dict(item, actor, settings.zone)
        for item in session.scalars(assistance.select_requests_for(actor, None).limit(20))
    ]
    offered = [job for job in requests if job["status"] in acceptance.WAITING and _is_offered(job)]
    return render_template(
        "network/console.html",
        shop=shop,
        today=today.date(),
        items=items,
        requests=requests,
        offered_ids={job["id"] for job in offered},
        links=shop_links(shop, actor),
        refresh_seconds=CONSOLE_REFRESH_SECONDS,
    )


def _next_steps(item: Booking, now: datetime) -> tuple[str, ...]:
    """The booking's next steps; a no-show only once its slot has started (booking.transition_booking's rule)."""
    return tuple(step for step in NEXT_STEPS.get(item.status, ()) if step != "no-show" or now >= item.start)


def _is_offered(job: dict) -> bool:
    return bool(job["offers"]) and job["offers"][0]["status"] == OfferStatus.OFFERED


@pages.route("/console/assistance/<int:request_id>/<action>", methods=["POST"])
def console_assistance(request_id: int, action: str):
    """Accept, decline or complete a roadside job from the console."""
    check_csrf()
    actor = require_role(current_actor(), Role.SHOP_STAFF)
    session = db_session()
    settings = current_settings()
    shop = _console_shop(actor)
    job = assistance.get_request_for(session, actor, request_id)
    if action == "accept":
        acceptance.accept_request(session, actor, job, shop, settings)
    elif action == "decline":
        acceptance.decline_request(session, actor, job, shop)
    else:
        acceptance.close_request(session, actor, job, "complete")
        action = "complete-job"
    flash(str(DONE_MESSAGES[action]), "success")
    return redirect(url_for("network.console"))
