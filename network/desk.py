"""The OEM's roadside desk: the shops to call about a request nobody took, and assigning it to one of them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.activity import record_activity
from app.errors import Conflict, Forbidden
from app.geo import great_circle_km
from app.security import User, is_oem
from network.acceptance import eta_minutes, find_offer, give_to
from network.models import AssistanceOffer, AssistanceRequest, Shop, ShopStatus
from network.search import NO_FILTERS, ShopIndex, nearest
from network.settings import NetworkSettings

# Shops the OEM desk is shown for an escalated request, to call and then assign.
CANDIDATE_SHOPS = 5


def assign_request(
    session: Session, actor: User, request: AssistanceRequest, shop: Shop, settings: NetworkSettings
) -> AssistanceRequest:
    """Give a waiting request to a shop the OEM desk has called; like an acceptance, only while nobody has it."""
    if not is_oem(actor):
        raise Forbidden("only the OEM assigns roadside jobs")
    if shop.status != ShopStatus.ACTIVE:
        raise Conflict("shop %(shop)s is %(status)s, not taking work", field="shop", shop=shop.code, status=shop.status)
    offer = find_offer(session, request, shop)
    if offer is None:
        distance = great_circle_km(request.lat, request.lon, shop.lat, shop.lon)
        offer = AssistanceOffer(
            request_id=request.id, shop_id=shop.id, round=request.round, distance_km=round(distance, 2)
        )
        session.add(offer)
        session.flush()
    eta = eta_minutes(offer.distance_km, settings)
    given = give_to(session, request, offer, eta, assigned_by=actor, zone=settings.zone)
    record_activity(session, actor, "network.roadside_assigned", "assistance_request", request.id, shop=shop.code)
    return given


def list_candidate_shops(
    session: Session, index: ShopIndex, request: AssistanceRequest, settings: NetworkSettings
) -> list[tuple[Shop, float]]:
    """Return the active shops nearest to a request (any service, open or not) with their distance, for the OEM
    desk to call before it assigns one."""
    found = nearest(index, request.lat, request.lon, min(CANDIDATE_SHOPS, len(index) or 1), NO_FILTERS, settings)
    ids = [int(index.ids[position]) for position, _distance in found]
    shops = {shop.id: shop for shop in session.scalars(select(Shop).where(Shop.id.in_(ids)))}
    return [
        (shops[shop_id], distance)
        for shop_id, (_position, distance) in zip(ids, found, strict=True)
        if shop_id in shops
    ]
