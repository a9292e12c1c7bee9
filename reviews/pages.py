"""Reviews pages: the review form, a shop's reviews with scores, reply boxes, the certification board, plaques."""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import Blueprint, Response, abort, current_app, flash, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from pydantic import Field
from sqlalchemy import func, select

from app.crm.customers import find_customer_for_user, is_own_customer
from app.crm.identifiers import mask_name
from app.db import utcnow
from app.errors import InvalidInput, MilepostError
from app.geo import parse_position
from app.jobs import QUEUE_KEY, JobRun, run_to_dict
from app.security import Role, is_oem, require_actor, require_role
from app.web.context import code_keyring, current_actor, db_session
from app.web.csrf import check_csrf
from app.web.endpoints import parse_query
from app.web.errors import wants_json
from app.web.navigation import NavLink
from app.web.pagination import PageQuery, paginate
from app.web.transaction import discard_request_writes
from network.links import BookingLink, register_booking_link, register_shop_link
from network.models import Booking, BookingStatus, Shop
from network.shops import find_shop
from reviews import certification, publishing
from reviews.models import CertificationChange, CertificationState, ReissueReason, Review
from reviews.plaque_codes import plaque_url
from reviews.plaques import (
    active_plaque,
    approve_request,
    check_plaque,
    decline_request,
    find_open_request,
    find_request,
    last_decided_request,
    list_open_requests,
    qr_path,
    request_reissue,
)
from reviews.ratings import score_summary
from reviews.settings import DIMENSIONS, configured_thresholds, review_settings
from reviews.tiers import Tier
from reviews.wording import reason_text, reissue_reason_text, tier_in_both_languages, tier_text

pages = Blueprint(
    "reviews", __name__, template_folder="templates", static_folder="static", static_url_path="/static/reviews"
)
pages.add_app_template_filter(mask_name, "mask_name")
# Tier names and certification reasons in words, for every page that shows them (the OEM dashboard too).
pages.add_app_template_global(tier_text, "tier_text")
pages.add_app_template_global(reason_text, "reason_text")
pages.add_app_template_global(reissue_reason_text, "reissue_reason_label")

DEVICE_COOKIE = "mp_device"
DEVICE_COOKIE_DAYS = 730

# Top-bar links this domain adds: NavLink(endpoint, label, roles).
NAVIGATION: list[NavLink] = [
    NavLink("reviews.to_review", "Reviews", (Role.DRIVER,)),
    NavLink("reviews.board", "Certification", (Role.OEM_ADMIN,)),
]


def _review_link(booking: Booking, config, now) -> BookingLink | None:
    """The link to review a completed booking, while its review window is open."""
    if booking.status != BookingStatus.COMPLETED:
        return None
    if publishing.is_review_window_closed(booking, review_settings(config), now):
        return None
    return BookingLink(_("Review this service"), url_for("reviews.review_form", booking_id=booking.id), "review-link")


register_booking_link("reviews.review", _review_link)


def _is_shop_staff(actor, shop: Shop) -> bool:
    return actor is not None and actor.role == Role.SHOP_STAFF and actor.organization_id == shop.organization_id


def _shop_reviews_link(shop: Shop, actor) -> BookingLink:
    """The link from a shop's console and public page to its reviews, where its staff reply to them."""
    label = _("Reviews and replies") if _is_shop_staff(actor, shop) else _("Reviews")
    return BookingLink(label, url_for("reviews.shop_reviews", code=shop.code), "reviews-link")


register_shop_link("reviews.shop_reviews", _shop_reviews_link)


def _shop_or_404(code: str) -> Shop:
    shop = find_shop(db_session(), code)
    if shop is None:
        abort(404)
    return shop


def _with_device_cookie(response: Response) -> Response:
    """Give the browser a long-lived random device id: several accounts on one phone show up as a cluster."""
    if not request.cookies.get(DEVICE_COOKIE):
        response.set_cookie(
            DEVICE_COOKIE,
            secrets.token_urlsafe(18),
            max_age=DEVICE_COOKIE_DAYS * 86400,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure,
        )
    return response


@pages.route("/my/reviews")
def to_review():
    """List the signed-in driver's completed bookings that can still be reviewed, and their reviews."""
    return _my_reviews_page(require_role(current_actor(), Role.DRIVER))


def _my_reviews_page(actor, error: MilepostError | None = None, failed_review: int | None = None):
    session = db_session()
    customer = find_customer_for_user(session, actor)
    settings = review_settings(current_app.config)
    now = utcnow()
    since = now - timedelta(days=settings.window_days)
    bookings = []
    if customer is not None:
        bookings = session.scalars(
            select(Booking)
            .where(Booking.customer_id == customer.id, Booking.status == BookingStatus.COMPLETED)
            .order_by(Booking.completed_at.desc())
            .limit(50)
        ).all()
    reviewed = {
        review.booking_id: review
        for review in session.scalars(select(Review).where(Review.booking_id.in_([b.id for b in bookings])))
    }
    page = render_template(
        "reviews/my_reviews.html",
        bookings=bookings,
        reviewed=reviewed,
        since=since,
        follow_up_since=now - timedelta(days=settings.follow_up_days),
        error=error,
        failed_review=failed_review,
        followed=request.args.get("followed"),
    )
    return page, (error.status if error else 200)


@pages.route("/reviews/<int:review_id>/follow-up", methods=["POST"])
def follow_up(review_id: int):
    """Take the author's one follow-up to their review from "my reviews" (text, and stars if they changed)."""
    actor = require_role(current_actor(), Role.DRIVER)
    check_csrf()
    raw = request.form.get("overall", "")
    try:
        overall = int(raw) if raw.isdigit() else None
        if raw and overall is None:
            raise InvalidInput("overall must be a whole number of stars from 1 to 5", field="overall")
        publishing.add_follow_up(
            db_session(),
            actor,
            review_id,
            request.form.get("text", ""),
            overall,
            review_settings(current_app.config),
            utcnow(),
        )
    except MilepostError as failure:
        discard_request_writes(failure)
        return _my_reviews_page(actor, failure, review_id)
    return redirect(url_for("reviews.to_review", followed=1))


@pages.route("/bookings/<int:booking_id>/review", methods=["GET", "POST"])
def review_form(booking_id: int):
    """Show and accept the review form for one completed booking."""
    actor = require_role(current_actor(), Role.DRIVER)
    session = db_session()
    booking = session.get(Booking, booking_id)
    # Another driver's booking is not found, not forbidden: its shop, service and date are not theirs to see.
    if booking is None or not is_own_customer(actor, booking.customer):
        abort(404)
    error = None
    if request.method == "POST":
        check_csrf()
        try:
            stars = publishing.Stars(**{dimension: _stars(dimension) for dimension in DIMENSIONS})
            publishing.publish_review(
                session,
                actor,
                booking_id,
                stars,
                request.form.get("text", ""),
                review_settings(current_app.config),
                utcnow(),
                request.cookies.get(DEVICE_COOKIE),
            )
            return redirect(url_for("reviews.shop_reviews", code=booking.shop.code))
        except MilepostError as failure:
            discard_request_writes(failure)
            error = failure
    settings = review_settings(current_app.config)
    closed = publishing.is_review_window_closed(booking, settings, utcnow())
    response = Response(
        render_template(
            "reviews/review_form.html",
            booking=booking,
            error=error,
            dimensions=DIMENSIONS,
            review=session.scalar(select(Review).where(Review.booking_id == booking.id)),
            window_days=settings.window_days,
            window_closed=closed and error is None,
        )
    )
    if error is not None:
        response.status_code = error.status
    return _with_device_cookie(response)


def _stars(dimension: str) -> int:
    raw = request.form.get(dimension, "")
    if not raw.isdigit() or not 1 <= int(raw) <= 5:
        raise InvalidInput("%(field)s must be a whole number of stars from 1 to 5", field=dimension)
    return int(raw)


def _last_reason(session, shop: Shop) -> str | None:
    """Return the reason of the shop's latest certification change, if it ever had one."""
    return session.scalar(
        select(CertificationChange.reason)
        .where(CertificationChange.shop_id == shop.id)
        .order_by(CertificationChange.created_at.desc(), CertificationChange.id.desc())
        .limit(1)
    )


@pages.route("/shops/<code>/reviews")
def shop_reviews(code: str):
    """Show a shop's scores with dimension bars and its reviews, with reply boxes for the shop's staff."""
    session = db_session()
    shop = _shop_or_404(code)
    actor = current_actor()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    reviews = session.scalars(publishing.select_shop_reviews(shop, actor).limit(20).offset((page - 1) * 20)).all()
    summary = score_summary(session, shop, review_settings(current_app.config), utcnow())
    is_staff = _is_shop_staff(actor, shop)
    state = session.get(CertificationState, shop.id)
    return render_template(
        "reviews/shop_reviews.html",
        shop=shop,
        reviews=reviews,
        summary=summary,
        is_staff=is_staff,
        is_oem=is_oem(actor),
        tier=state.tier if state else Tier.NONE,
        reason=_last_reason(session, shop),
        page=page,
    )


@pages.route("/reviews/<int:review_id>/reply", methods=["POST"])
def reply(review_id: int):
    """Accept the shop's reply from the shop console's reply box."""
    actor = require_role(current_actor(), Role.SHOP_STAFF)
    check_csrf()
    session = db_session()
    reply = publishing.reply_to_review(session, actor, review_id, request.form.get("text", ""), utcnow())
    flash(_("Reply published under the review."), "success")
    return redirect(url_for("reviews.shop_reviews", code=reply.review.shop.code))


class BoardQuery(PageQuery):
    tier: str | None = None
    q: str | None = Field(None, max_length=100, description="shop code or name contains")


def _board_page(
    session, error: MilepostError | None = None, failed_shop: str | None = None, failed_request: int | None = None
):
    query = parse_query(BoardQuery)
    job = None
    if request.args.get("run", "").isdigit() and len(request.args["run"]) < 12:
        found = session.get(JobRun, int(request.args["run"]))
        if found is not None and found.name == certification.EVALUATION_JOB:
            job = run_to_dict(found, current_app.extensions.get(QUEUE_KEY))
    statement = select(CertificationState).join(Shop).order_by(CertificationState.tier, Shop.code)
    if query.tier:
        statement = statement.where(CertificationState.tier == query.tier)
    if query.q:
        text = query.q.strip()
        matches = Shop.code.icontains(text, autoescape=True) | Shop.name.icontains(text, autoescape=True)
        statement = statement.where(matches)
    result = paginate(session, statement, query, lambda state: state)
    counts = dict(
        session.execute(select(CertificationState.tier, func.count()).group_by(CertificationState.tier)).all()
    )
    pending = session.scalars(
        select(CertificationState)
        .join(Shop)
        .where(CertificationState.pending_tier.is_not(None))
        .order_by(Shop.code)
        .limit(100)
    ).all()
    page = render_template(
        "reviews/board.html",
        result=result,
        query=query,
        counts=counts,
        pending=pending,
        plaque_requests=list_open_requests(session),
        tiers=list(Tier),
        job=job,
        error=error,
        failed_shop=failed_shop,
        changed=request.args.get("changed"),
        reissued=request.args.get("reissued"),
        declined=request.args.get("declined"),
        failed_request=failed_request,
    )
    return page, (error.status if error else 200)


@pages.route("/certification/board", methods=["GET", "POST"])
def board():
    """Show the OEM's certification board (paged, searchable); run an evaluation, approve or override a tier."""
    actor = require_role(current_actor(), Role.OEM_ADMIN)
    session = db_session()
    if request.method == "POST":
        check_csrf()
        if request.form.get("action") in ("reissue", "decline"):
            return _decide_plaque_request(session, actor)
        if request.form.get("action") in ("override", "approve"):
            code = request.form.get("shop", "")
            try:
                shop = _shop_or_404(code)
                certification.override_tier(
                    session,
                    actor,
                    shop,
                    request.form.get("tier", ""),
                    request.form.get("reason", ""),
                    configured_thresholds(current_app.config),
                    code_keyring(),
                    utcnow(),
                )
            except MilepostError as problem:
                discard_request_writes(problem)
                return _board_page(session, problem, code)
            return redirect(url_for("reviews.board", changed=shop.code, q=request.args.get("q") or None))
        run = certification.request_evaluation(session, actor, None, None, current_app.config)
        return redirect(url_for("reviews.board", run=run.id))
    return _board_page(session)


def _decide_plaque_request(session, actor):
    """Re-issue the plaque a request asks for, or decline it with the reason the shop is shown."""
    plaque_request = _plaque_request_or_404(request.form.get("request", ""))
    shop = plaque_request.shop
    try:
        if request.form["action"] == "decline":
            decline_request(session, actor, plaque_request, request.form.get("decline_reason", ""), utcnow())
            return redirect(url_for("reviews.board", declined=shop.code))
        plaque = approve_request(session, code_keyring(), actor, plaque_request, utcnow())
    except MilepostError as problem:
        discard_request_writes(problem)
        return _board_page(session, problem, failed_request=plaque_request.id)
    return redirect(url_for("reviews.board", reissued=f"{shop.code} #{plaque.number}"))


def _plaque_request_or_404(value: str):
    found = find_request(db_session(), int(value)) if value.isdigit() and len(value) < 12 else None
    if found is None:
        abort(404)
    return found


@pages.route("/plaque/<shop_code>")
def plaque(shop_code: str):
    """Verify a scanned plaque: shop, live tier and score in colour, forged or stale said plainly, distance."""
    position = None
    if request.args.get("lat") or request.args.get("lon"):
        parsed = parse_position(request.args.get("lat"), request.args.get("lon"))
        position = (parsed.lat, parsed.lon)
    session = db_session()
    result = check_plaque(
        session,
        code_keyring(),
        shop_code,
        request.args.get("c"),
        position,
        review_settings(current_app.config).plaque_near_km,
    )
    if wants_json():
        return jsonify(result.to_dict())
    return render_template(
        "reviews/plaque.html", result=result, reason=result.last_reason, tag=request.args.get("c", "")
    )


def _own_shop_or_404(code: str):
    """Return the signed-in actor and the shop whose plaque they manage: its own staff or the OEM; others 404."""
    actor = require_actor(current_actor())
    shop = _shop_or_404(code)
    if not (is_oem(actor) or _is_shop_staff(actor, shop)):
        abort(404)
    return actor, shop


def _plaque_page(actor, shop: Shop, error: MilepostError | None = None):
    session = db_session()
    plaque = active_plaque(session, shop)
    state = session.get(CertificationState, shop.id)
    page = render_template(
        "reviews/plaque_manage.html",
        shop=shop,
        plaque=plaque,
        tier=state.tier if state else Tier.NONE,
        summary=score_summary(session, shop, review_settings(current_app.config), utcnow()),
        open_request=find_open_request(session, shop),
        last_decided=last_decided_request(session, shop),
        reasons=list(ReissueReason),
        is_staff=_is_shop_staff(actor, shop),
        error=error,
        requested=request.args.get("requested"),
    )
    return page, (error.status if error else 200)


@pages.route("/shops/<code>/plaque/manage")
def plaque_manage(code: str):
    """Show a shop's staff their plaque in force (tier in words, score, issue date), the print view, a re-issue form."""
    actor, shop = _own_shop_or_404(code)
    return _plaque_page(actor, shop)


@pages.route("/shops/<code>/plaque/reissue-request", methods=["POST"])
def plaque_reissue_request(code: str):
    """Record the shop's request that the OEM re-issue its plaque (lost, damaged, moved, name changed)."""
    actor, shop = _own_shop_or_404(code)
    check_csrf()
    if not _is_shop_staff(actor, shop):
        abort(404)
    try:
        request_reissue(
            db_session(), actor, shop, request.form.get("reason", ""), request.form.get("note", ""), utcnow()
        )
    except MilepostError as failure:
        discard_request_writes(failure)
        return _plaque_page(actor, shop, failure)
    return redirect(url_for("reviews.plaque_manage", code=shop.code, requested=1))


@pages.route("/shops/<code>/plaque/print")
def plaque_print(code: str):
    """Show the printable plaque: one A5 page with the whole shop name, the tier in words and the QR code."""
    _actor, shop = _own_shop_or_404(code)
    session = db_session()
    plaque = active_plaque(session, shop)
    if plaque is None:
        abort(404)
    state = session.get(CertificationState, shop.id)
    url = plaque_url(current_app.config["PUBLIC_BASE_URL"], shop.code, plaque.tag)
    path, modules = qr_path(url)
    return render_template(
        "reviews/plaque_print.html",
        shop=shop,
        plaque=plaque,
        url=url,
        qr_path=path,
        qr_modules=modules,
        tier_words=tier_in_both_languages(state.tier if state else Tier.NONE),
        name_size=name_size_class(shop.name),
    )


def name_size_class(name: str) -> str:
    """Return the CSS class that sizes a shop's name so the whole of it fits the plaque's width on few lines."""
    # A Chinese character is about twice as wide as a Latin letter.
    width = sum(2 if ord(character) > 0x2E80 else 1 for character in name)
    if width <= 20:
        return "name-large"
    if width <= 40:
        return "name-medium"
    return "name-small"
