"""Reviews JSON API: reviews, follow-ups, replies, moderation, scores, certification and plaques."""

from __future__ import annotations

from typing import Any

from flask import Response, request
from pydantic import Field
from sqlalchemy import select

from app.config import ENV_PREFIX, ConfigError
from app.crm.organizations import get_organization
from app.db import utcnow
from app.errors import InvalidInput, NotFound
from app.jobs import run_to_dict
from app.security import Role, require_member
from app.web.context import code_keyring, db_session, settings
from app.web.endpoints import PUBLIC, ApiBlueprint, Schema
from app.web.pagination import PageQuery, paginate
from network.models import Shop
from network.shops import get_shop
from reviews import certification, publishing
from reviews.models import CertificationState, ModerationAction, PlaqueRequest
from reviews.plaque_codes import plaque_url
from reviews.plaques import (
    active_plaque,
    approve_request,
    decline_request,
    find_request,
    issue_plaque,
    list_open_requests,
    plaque_svg,
)
from reviews.ratings import score_summary
from reviews.settings import configured_thresholds, review_settings
from reviews.wording import tier_in_both_languages, with_reason_texts

api = ApiBlueprint("reviews_api", __name__, tag="Reviews")


@api.record_once
def _check_settings(state) -> None:
    """Stop the app at start-up on a bad reviews setting or thresholds JSON, not at the first review or run."""
    try:
        review_settings(state.app.config)
        configured_thresholds(state.app.config)
    except InvalidInput as error:
        raise ConfigError(f"{ENV_PREFIX}{error.field}: {error.message}") from None


DEVICE_COOKIE = "mp_device"
DEVICE_HEADER = "X-Milepost-Device"


class ReviewIn(Schema):
    overall: int = Field(ge=1, le=5, description="overall stars")
    quality: int = Field(ge=1, le=5, description="quality of the work")
    price: int = Field(ge=1, le=5, description="price fairness")
    timeliness: int = Field(ge=1, le=5)
    honesty: int = Field(ge=1, le=5, description="honesty about parts")
    text: str = Field("", max_length=publishing.MAX_TEXT)


class FollowUpIn(Schema):
    text: str = Field(min_length=1, max_length=publishing.MAX_TEXT)
    overall: int | None = Field(None, ge=1, le=5, description="new overall stars (replace the original in scores)")


class ReplyIn(Schema):
    text: str = Field(min_length=1, max_length=publishing.MAX_TEXT)


class ModerationIn(Schema):
    reason: str = Field(min_length=publishing.MIN_REASON, max_length=500)


class EvaluateIn(Schema):
    shops: list[str] | None = Field(None, description="shop codes; all shops when absent")
    thresholds: dict[str, Any] | None = Field(None, description="thresholds for this run instead of the configured")


class OverrideIn(Schema):
    tier: str = Field(description="none, candidate, certified, gold, watch, probation, suspended or revoked")
    reason: str = Field(min_length=certification.MIN_OVERRIDE_REASON, max_length=1000)


class AffiliationIn(Schema):
    organization: str = Field(description="code of the fleet or operator that runs the shop")
    note: str = Field("", max_length=300)


class BoardQuery(PageQuery):
    tier: str | None = Field(None, description="only shops in this tier")
    pending: bool = Field(False, description="only shops with a change pending confirmation")


def find_shop(code: str) -> Shop:
    """Return the shop with `code`, or 404."""
    return get_shop(db_session(), code)


def device_id() -> str | None:
    """Return the device id the client sent (page cookie or API header)."""
    return request.headers.get(DEVICE_HEADER) or request.cookies.get(DEVICE_COOKIE)


def _review_settings():
    return review_settings(settings())


@api.endpoint(
    "POST",
    "/bookings/<int:booking_id>/review",
    access=[Role.DRIVER],
    body=ReviewIn,
    status=201,
    summary="Review a completed booking (its customer only, once, within the review window)",
)
def create_review(actor, booking_id: int, body: ReviewIn):
    session = db_session()
    stars = publishing.Stars(**body.model_dump(exclude={"text"}))
    review = publishing.publish_review(
        session, actor, booking_id, stars, body.text, _review_settings(), utcnow(), device_id()
    )
    return publishing.review_to_dict(review, actor), 201


@api.endpoint(
    "POST",
    "/reviews/<int:review_id>/follow-up",
    access=[Role.DRIVER],
    body=FollowUpIn,
    status=201,
    summary="Add the author's one follow-up to a review",
)
def create_follow_up(actor, review_id: int, body: FollowUpIn):
    session = db_session()
    publishing.add_follow_up(session, actor, review_id, body.text, body.overall, _review_settings(), utcnow())
    return publishing.review_to_dict(publishing.get_review(session, review_id), actor), 201


@api.endpoint(
    "POST",
    "/reviews/<int:review_id>/reply",
    access=[Role.SHOP_STAFF],
    body=ReplyIn,
    status=201,
    summary="Reply publicly to a review of your shop (once)",
)
def create_reply(actor, review_id: int, body: ReplyIn):
    session = db_session()
    publishing.reply_to_review(session, actor, review_id, body.text, utcnow())
    return publishing.review_to_dict(publishing.get_review(session, review_id), actor), 201


def _moderate(actor, review_id: int, body: ModerationIn, action: ModerationAction) -> dict:
    session = db_session()
    review = publishing.moderate_review(session, actor, review_id, action, body.reason, _review_settings(), utcnow())
    return publishing.review_to_dict(review, actor)


@api.endpoint(
    "POST",
    "/reviews/<int:review_id>/hide",
    access=[Role.OEM_ADMIN],
    body=ModerationIn,
    summary="Hide a review from the public with a logged reason",
)
def hide_review(actor, review_id: int, body: ModerationIn):
    return _moderate(actor, review_id, body, ModerationAction.HIDE)


@api.endpoint(
    "POST",
    "/reviews/<int:review_id>/restore",
    access=[Role.OEM_ADMIN],
    body=ModerationIn,
    summary="Restore a hidden review with a logged reason",
)
def restore_review(actor, review_id: int, body: ModerationIn):
    return _moderate(actor, review_id, body, ModerationAction.RESTORE)


@api.endpoint(
    "GET",
    "/shops/<code>/reviews",
    access=PUBLIC,
    query=PageQuery,
    summary="A shop's reviews, newest first, with replies, follow-ups and the shop's scores",
)
def list_reviews(actor, code: str, query: PageQuery):
    session = db_session()
    shop = find_shop(code)
    page = paginate(
        session,
        publishing.select_shop_reviews(shop, actor),
        query,
        lambda review: publishing.review_to_dict(review, actor),
    )
    page["score"] = score_summary(session, shop, _review_settings(), utcnow())
    return page


@api.endpoint("GET", "/shops/<code>/score", access=PUBLIC, summary="A shop's scores, intervals and percentile")
def show_score(actor, code: str):
    return score_summary(db_session(), find_shop(code), _review_settings(), utcnow())


@api.endpoint(
    "POST",
    "/certification/evaluate",
    access=[Role.OEM_ADMIN],
    body=EvaluateIn,
    status=202,
    summary="Queue a certification evaluation for the worker (optionally with thresholds for this run only)",
)
def evaluate(actor, body: EvaluateIn):
    run = certification.request_evaluation(db_session(), actor, body.thresholds, body.shops, settings())
    # The worker runs it; GET /api/v1/jobs/runs/<id> shows its progress and, once done, the result.
    return {**run_to_dict(run), "status_url": f"/api/v1/jobs/runs/{run.id}"}, 202


@api.endpoint(
    "GET",
    "/shops/<code>/certification",
    access=PUBLIC,
    summary="A shop's certification tier, KPI snapshot, pending change and history",
)
def show_certification(actor, code: str):
    return with_reason_texts(certification.certification_summary(db_session(), find_shop(code), actor))


@api.endpoint(
    "GET",
    "/certification",
    access=[Role.OEM_ADMIN],
    query=BoardQuery,
    summary="The certification board: every evaluated shop with tier, KPIs and pending change",
)
def certification_board(actor, query: BoardQuery):
    statement = select(CertificationState).join(Shop).order_by(CertificationState.tier, Shop.code)
    if query.tier:
        statement = statement.where(CertificationState.tier == query.tier)
    if query.pending:
        statement = statement.where(CertificationState.pending_tier.is_not(None))
    return paginate(db_session(), statement, query, lambda state: with_reason_texts(certification.state_to_dict(state)))


@api.endpoint(
    "POST",
    "/shops/<code>/certification/override",
    access=[Role.OEM_ADMIN],
    body=OverrideIn,
    summary="Set a shop's tier by OEM decision with a written reason",
)
def override(actor, code: str, body: OverrideIn):
    session = db_session()
    shop = find_shop(code)
    certification.override_tier(
        session, actor, shop, body.tier, body.reason, configured_thresholds(settings()), code_keyring(), utcnow()
    )
    return with_reason_texts(certification.certification_summary(session, shop, actor))


@api.endpoint(
    "POST",
    "/shops/<code>/plaque",
    access=[Role.OEM_ADMIN],
    status=201,
    summary="Issue or re-issue a shop's plaque (the previous one stops verifying)",
)
def reissue_plaque(actor, code: str):
    session = db_session()
    shop = find_shop(code)
    plaque = issue_plaque(session, code_keyring(), shop, actor, utcnow())
    return {
        "shop": shop.code,
        "plaque": plaque.number,
        "url": plaque_url(settings()["PUBLIC_BASE_URL"], shop.code, plaque.tag),
    }, 201


@api.endpoint(
    "GET",
    "/shops/<code>/plaque",
    access=[Role.OEM_ADMIN, Role.SHOP_STAFF],
    summary="The shop's plaque in force: number and the signed URL its QR code carries",
)
def show_plaque(actor, code: str):
    shop = find_shop(code)
    require_member(actor, shop.organization_id, Role.SHOP_STAFF)
    plaque = active_plaque(db_session(), shop)
    if plaque is None:
        raise NotFound("this shop has no plaque in force", field="shop")
    url = plaque_url(settings()["PUBLIC_BASE_URL"], shop.code, plaque.tag)
    return {"shop": shop.code, "plaque": plaque.number, "issued_at": plaque.issued_at.isoformat(), "url": url}


class DeclineIn(Schema):
    reason: str = Field(min_length=1, max_length=300, description="why the request is declined (the shop is shown it)")


def _request_to_dict(item: PlaqueRequest) -> dict[str, Any]:
    return {
        "id": item.id,
        "shop": item.shop.code,
        "reason": item.reason,
        "note": item.note,
        "requested_at": item.requested_at.isoformat(),
        "status": "pending" if item.open_shop_id is not None else ("declined" if item.decline_reason else "approved"),
        "resolved_at": item.resolved_at.isoformat() if item.resolved_at else None,
        "plaque": item.plaque_number,
        "decline_reason": item.decline_reason,
    }


def _find_request(request_id: int) -> PlaqueRequest:
    found = find_request(db_session(), request_id)
    if found is None:
        raise NotFound("no such re-issue request", field="request")
    return found


@api.endpoint(
    "GET",
    "/plaque-requests",
    access=[Role.OEM_ADMIN],
    summary="The pending plaque re-issue requests, oldest first",
)
def list_plaque_requests(actor):
    return {"items": [_request_to_dict(item) for item in list_open_requests(db_session())]}


@api.endpoint(
    "POST",
    "/plaque-requests/<int:request_id>/approve",
    access=[Role.OEM_ADMIN],
    status=201,
    summary="Approve a pending re-issue request: issue the shop's next plaque",
)
def approve_plaque_request(actor, request_id: int):
    item = _find_request(request_id)
    approve_request(db_session(), code_keyring(), actor, item, utcnow())
    return _request_to_dict(item), 201


@api.endpoint(
    "POST",
    "/plaque-requests/<int:request_id>/decline",
    access=[Role.OEM_ADMIN],
    body=DeclineIn,
    summary="Decline a pending re-issue request with the reason the shop is shown",
)
def decline_plaque_request(actor, request_id: int, body: DeclineIn):
    item = _find_request(request_id)
    decline_request(db_session(), actor, item, body.reason, utcnow())
    return _request_to_dict(item)


@api.endpoint(
    "GET",
    "/shops/<code>/plaque.svg",
    access=[Role.OEM_ADMIN, Role.SHOP_STAFF],
    summary="The printable plaque (SVG, A5) with its QR code",
    produces="image/svg+xml",
)
def printable_plaque(actor, code: str):
    session = db_session()
    shop = find_shop(code)
    require_member(actor, shop.organization_id, Role.SHOP_STAFF)
    plaque = active_plaque(session, shop)
    if plaque is None:
        raise NotFound("this shop has no plaque in force", field="shop")
    state = session.get(CertificationState, shop.id)
    tier = state.tier if state else "none"
    svg = plaque_svg(shop, plaque, settings()["PUBLIC_BASE_URL"], " ".join(tier_in_both_languages(tier)))
    return Response(svg, mimetype="image/svg+xml")


@api.endpoint(
    "POST",
    "/shops/<code>/affiliations",
    access=[Role.OEM_ADMIN],
    body=AffiliationIn,
    status=201,
    summary="Record that a fleet or operator runs a shop (its people's reviews of the shop will not count)",
)
def add_affiliation(actor, code: str, body: AffiliationIn):
    session = db_session()
    shop = find_shop(code)
    organization = get_organization(session, body.organization, field="organization")
    publishing.affiliate_organization(session, actor, shop, organization, body.note, _review_settings(), utcnow())
    return {"shop": shop.code, "organization": organization.code}, 201
