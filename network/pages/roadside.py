"""Driver roadside pages: ask for help (position, vehicle, problem) and see who is coming."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.crm.vehicles import get_vehicle_for
from app.errors import InvalidInput, MilepostError
from app.geo import parse_position
from app.security import Role
from app.web.context import db_session
from app.web.csrf import check_csrf
from app.web.transaction import discard_request_writes
from network import acceptance, assistance, rendering
from network.pages import page_actor, pages
from network.pages.driver import driver_vehicles
from network.places import find_place
from network.web import current_settings, shop_index


def _position_from_form():
    if request.form.get("lat") or request.form.get("lon"):
        return parse_position(request.form.get("lat"), request.form.get("lon"))
    if request.form.get("place", "").strip():
        position, _name = find_place(request.form["place"])
        return position
    raise InvalidInput("share your location or type where you are", field="place")


@pages.route("/assistance", methods=["GET", "POST"])
def ask_for_help():
    """Show the roadside help form and send a driver's request to the nearest open roadside shops."""
    actor = page_actor(Role.DRIVER)
    if isinstance(actor, Response):
        return actor
    session = db_session()
    error = None
    if request.method == "POST":
        check_csrf()
        try:
            position = _position_from_form()
            vehicle = get_vehicle_for(session, actor, request.form.get("vin", ""))
            job = assistance.request_assistance(
                session,
                actor,
                vehicle,
                position.lat,
                position.lon,
                request.form.get("description", ""),
                [],
                shop_index(session),
                current_settings(),
            )
            return redirect(url_for("network.help_status", request_id=job.id))
        except MilepostError as problem:
            discard_request_writes(problem)
            error = problem
    return render_template("network/roadside.html", vehicles=driver_vehicles(actor), error=error), (
        error.status if error else 200
    )


@pages.route("/assistance/<int:request_id>")
def help_status(request_id: int):
    """Show one roadside request to its driver: who is coming, their phone and ETA, or who it is offered to."""
    actor = page_actor(Role.DRIVER)
    if isinstance(actor, Response):
        return actor
    session = db_session()
    settings = current_settings()
    job = assistance.get_request_for(session, actor, request_id)
    return render_template(
        "network/roadside_status.html",
        job=rendering.request_to_dict(job, actor, settings.zone),
        cancellable=job.status in acceptance.DRIVER_CANCELLABLE,
        cancelled=request.args.get("cancelled"),
    )


@pages.route("/assistance/<int:request_id>/cancel", methods=["POST"])
def cancel_help(request_id: int):
    """Cancel the driver's own roadside request while no shop has finished it; the offers are withdrawn."""
    check_csrf()
    actor = page_actor(Role.DRIVER)
    if isinstance(actor, Response):
        return actor
    session = db_session()
    job = assistance.get_request_for(session, actor, request_id)
    acceptance.close_request(session, actor, job, "cancel")
    return redirect(url_for("network.help_status", request_id=job.id, cancelled=1))
