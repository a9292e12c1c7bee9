"""The OEM's roadside desk: escalated requests, the shops nearest to each, and assigning one after a call."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from app.errors import MilepostError
from app.security import Role
from app.web.context import db_session
from app.web.csrf import check_csrf
from app.web.transaction import discard_request_writes
from network import assistance, desk, rendering
from network.models import AssistanceStatus
from network.pages import page_actor, pages
from network.shops import get_shop
from network.web import current_settings, shop_index

DESK_LIMIT = 50


def _desk(actor, error: MilepostError | None = None, failed_id: int | None = None):
    session = db_session()
    settings = current_settings()
    index = shop_index(session)
    waiting = session.scalars(assistance.select_requests_for(actor, AssistanceStatus.ESCALATED).limit(DESK_LIMIT))
    jobs = [
        {
            **rendering.request_to_dict(job, actor, settings.zone),
            "candidates": [
                rendering.candidate_to_dict(shop, distance, settings)
                for shop, distance in desk.list_candidate_shops(session, index, job, settings)
            ],
        }
        for job in waiting
    ]
    status = error.status if error is not None else 200
    return render_template(
        "network/roadside_desk.html",
        jobs=jobs,
        error=error,
        failed_id=failed_id,
        assigned=request.args.get("assigned", type=int),
    ), status


@pages.route("/assistance/desk")
def roadside_desk():
    """List the escalated roadside requests with the nearest shops to call for each."""
    actor = page_actor(Role.OEM_ADMIN)
    if isinstance(actor, Response):
        return actor
    return _desk(actor)


@pages.route("/assistance/<int:request_id>/assign", methods=["POST"])
def assign_help(request_id: int):
    """Give an escalated request to the shop the desk has called, then go back to the desk."""
    actor = page_actor(Role.OEM_ADMIN)
    if isinstance(actor, Response):
        return actor
    check_csrf()
    session = db_session()
    try:
        job = assistance.get_request_for(session, actor, request_id)
        shop = get_shop(session, request.form.get("shop", ""))
        desk.assign_request(session, actor, job, shop, current_settings())
    except MilepostError as problem:
        discard_request_writes(problem)
        return _desk(actor, problem, request_id)
    return redirect(url_for("network.roadside_desk", assigned=request_id))
