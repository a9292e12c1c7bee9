"""Roadside acceptance: first accept wins, declines, and closing a job (cancelled by the driver, completed by the
shop). Every race is decided by one conditional UPDATE, so an acceptance is never overwritten."""

from __future__ import annotations

import math
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.crm.activity import record_activity
from app.crm.customers import is_own_customer
from app.crm.notifications import DEFAULT_ZONE
from app.db import utcnow
from app.errors import Conflict, Forbidden, InvalidInput
from app.security import Role, User, require_member
from network.models import AssistanceOffer, AssistanceRequest, AssistanceStatus, OfferStatus, Shop
from network.notices import tell_roadside_accepted
from network.settings import NetworkSettings

WAITING = (AssistanceStatus.OPEN, AssistanceStatus.ESCALATED)
# A driver may call off a request while it waits and while a shop is on its way.
DRIVER_CANCELLABLE = (*WAITING, AssistanceStatus.ACCEPTED)


def eta_minutes(distance_km: float, settings: NetworkSettings) -> int:
    """Return the estimated minutes until a shop `distance_km` away arrives."""
    return settings.assistance_preparation_minutes + math.ceil(distance_km / settings.assistance_speed_kmh * 60)


def find_offer(session: Session, request: AssistanceRequest, shop: Shop) -> AssistanceOffer | None:
    return session.scalar(
        select(AssistanceOffer).where(AssistanceOffer.request_id == request.id, AssistanceOffer.shop_id == shop.id)
    )


def accept_request(
    session: Session, actor: User, request: AssistanceRequest, shop: Shop, settings: NetworkSettings
) -> AssistanceRequest:
    """Let a shop that was offered the job take it; exactly one shop ever succeeds, the others get 409."""
    require_member(actor, shop.organization_id, Role.SHOP_STAFF)
    offer = find_offer(session, request, shop)
    if offer is None:
        raise Forbidden("shop %(shop_code)s was not offered this job", field="shop", shop_code=shop.code)
    eta = eta_minutes(offer.distance_km, settings)
    return give_to(session, request, offer, eta, assigned_by=None, zone=settings.zone)


def give_to(
    session: Session,
    request: AssistanceRequest,
    offer: AssistanceOffer,
    eta: int,
    assigned_by: User | None,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> AssistanceRequest:
    """Hand the request to the offer's shop if it is still waiting (the driver is told); other open offers lose."""
    now = utcnow()
    # One conditional UPDATE decides the race: only the first shop (or the OEM) finds the request still waiting.
    result = session.execute(
        update(AssistanceRequest)
        .where(
            AssistanceRequest.id == request.id,
            AssistanceRequest.status.in_(WAITING),
            AssistanceRequest.accepted_shop_id.is_(None),
        )
        .values(
            status=AssistanceStatus.ACCEPTED,
            accepted_shop_id=offer.shop_id,
            accepted_at=now,
            eta_minutes=eta,
            assigned_by_id=assigned_by.id if assigned_by is not None else None,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict("another shop has already taken this job, or it was closed", field="status")
    session.execute(
        update(AssistanceOffer)
        .where(AssistanceOffer.request_id == request.id)
        .values(status=OfferStatus.LOST, responded_at=now)
        .where(AssistanceOffer.status == OfferStatus.OFFERED, AssistanceOffer.id != offer.id)
        .execution_options(synchronize_session=False)
    )
    offer.status = OfferStatus.ACCEPTED
    offer.responded_at = now
    session.flush()
    session.refresh(request)
    tell_roadside_accepted(session, request, zone, now)
    return request


def decline_request(session: Session, actor: User, request: AssistanceRequest, shop: Shop) -> AssistanceOffer:
    """Record that a shop declines the job it was offered."""
    require_member(actor, shop.organization_id, Role.SHOP_STAFF)
    offer = find_offer(session, request, shop)
    if offer is None:
        raise Forbidden("shop %(shop_code)s was not offered this job", field="shop", shop_code=shop.code)
    if offer.status != OfferStatus.OFFERED:
        raise Conflict("the offer is already %(offer_status)s", field="status", offer_status=offer.status)
    offer.status = OfferStatus.DECLINED
    offer.responded_at = utcnow()
    session.flush()
    return offer


def close_request(session: Session, actor: User, request: AssistanceRequest, action: str) -> AssistanceRequest:
    """Cancel (the driver, while nobody has come) or complete (the assigned shop) a request."""
    now = utcnow()
    if action == "cancel":
        if not is_own_customer(actor, request.customer):
            raise Forbidden("only the driver who asked may cancel")
        allowed = DRIVER_CANCELLABLE
        target = AssistanceStatus.CANCELLED
    elif action == "complete":
        if request.accepted_shop is None:
            raise Conflict("no shop has taken this job", field="status")
        require_member(actor, request.accepted_shop.organization_id, Role.SHOP_STAFF)
        allowed = (AssistanceStatus.ACCEPTED,)
        target = AssistanceStatus.COMPLETED
    else:
        raise InvalidInput("unknown action %(action)r", field="action", action=action)
    result = session.execute(
        update(AssistanceRequest)
        .where(AssistanceRequest.id == request.id, AssistanceRequest.status.in_(allowed))
        .values(status=target, closed_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict(
            "a %(status)s request cannot be %(target)s", field="status", status=request.status, target=target
        )
    session.execute(
        update(AssistanceOffer)
        .where(AssistanceOffer.request_id == request.id, AssistanceOffer.status == OfferStatus.OFFERED)
        .values(status=OfferStatus.WITHDRAWN, responded_at=now)
        .execution_options(synchronize_session=False)
    )
    session.refresh(request)
    record_activity(session, actor, f"network.roadside_{target}", "assistance_request", request.id)
    return request
