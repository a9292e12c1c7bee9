"""Roadside assistance: offering a breakdown to nearby open shops, first-accept-wins, widening and escalation.

A request is offered in rounds: round n offers it to the nearest open roadside shops within the n-th radius
(ASSISTANCE_RADII_KM) that have not had it yet. When nobody accepts within ASSISTANCE_TIMEOUT_SECONDS the
next round starts; after the last radius the request is escalated to the OEM's list. A round that finds no
new shop moves on at once. The worker does this (network.tasks): a run scheduled at each round's deadline,
and a sweep every minute for any run that was missed. Reading a request never moves it.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from sqlalchemy import Select, select, update
from sqlalchemy.orm import Session

from app.crm.activity import record_activity
from app.crm.customers import find_customer_for_user, is_own_customer
from app.crm.identifiers import mask_name, mask_phone
from app.crm.models import Customer, Vehicle
from app.crm.relations import register_vehicle_relation
from app.db import utcnow
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.geo import great_circle_km
from app.jobs import QUEUE_KEY, enqueue
from app.security import Role, User, is_oem, require_member
from network.booking import lock_row
from network.hours import is_open_at
from network.models import (
    AssistanceOffer,
    AssistanceRequest,
    AssistanceStatus,
    OfferStatus,
    Service,
    Shop,
    ShopStatus,
)
from network.search import NO_FILTERS, Filters, ShopIndex, nearest
from network.settings import NetworkSettings

WAITING = (AssistanceStatus.OPEN, AssistanceStatus.ESCALATED)
# A request still being handled: a truck has at most one (row 7 of issue 10).
OPEN_STATES = (*WAITING, AssistanceStatus.ACCEPTED)
ADVANCE_JOB = "network.advance_assistance_request"
# Shops the OEM desk is shown for an escalated request, to call and then assign.
CANDIDATE_SHOPS = 5


def _offer_round(
    session: Session, request: AssistanceRequest, index: ShopIndex, settings: NetworkSettings, now: datetime
) -> int:
    """Offer the request to the nearest open roadside shops within this round's radius; return how many."""
    already = set(session.scalars(select(AssistanceOffer.shop_id).where(AssistanceOffer.request_id == request.id)))
    filters = Filters(service=Service.ROADSIDE, open_at=now)
    wanted = settings.assistance_offer_shops + len(already)
    found = nearest(
        index, request.lat, request.lon, min(wanted, len(index) or 1), filters, settings, max_km=request.radius_km
    )
    made = 0
    for position, distance in found:
        shop_id = int(index.ids[position])
        if shop_id in already or made >= settings.assistance_offer_shops:
            continue
        session.add(
            AssistanceOffer(
                request_id=request.id,
                shop_id=shop_id,
                round=request.round,
                distance_km=round(distance, 2),
                offered_at=now,
            )
        )
        made += 1
    session.flush()
    return made


def round_deadline(request: AssistanceRequest, settings: NetworkSettings) -> datetime:
    """Return when the request's current round times out."""
    return request.round_started_at + timedelta(seconds=settings.assistance_timeout_seconds)


def _schedule_deadline(session: Session, request: AssistanceRequest, settings: NetworkSettings) -> None:
    """Ask the worker to advance the request when its round times out (the minute sweep is the fallback)."""
    # Sessions of the app and the worker carry the queue; a bare session (a script, a unit test) leaves the
    # request to the sweep, which runs every minute anyway.
    if QUEUE_KEY in session.info:
        enqueue(session, ADVANCE_JOB, {"request_id": request.id}, eta=round_deadline(request, settings))


def _start_rounds(
    session: Session, request: AssistanceRequest, index: ShopIndex, settings: NetworkSettings, now: datetime
) -> None:
    """Run rounds from the request's current one until one offers to somebody, or escalate.

    The caller owns the request's row for this round: a new request, or one whose round it claimed with
    `_claim_round`.
    """
    radii = settings.assistance_radii_km
    while True:
        request.radius_km = radii[request.round]
        request.round_started_at = now
        if _offer_round(session, request, index, settings, now):
            session.flush()
            _schedule_deadline(session, request, settings)
            return
        if request.round + 1 >= len(radii):
            request.status = AssistanceStatus.ESCALATED
            request.escalated_at = now
            return
        request.round += 1


def _claim_round(session: Session, request: AssistanceRequest, values: dict) -> bool:
    """Move the request out of the round it was loaded in, only if it is still open in that round.

    One conditional UPDATE decides every race: a shop that accepted meanwhile, or another advancer that moved
    the round on first, makes it match nothing, so an acceptance is never overwritten and no round skipped.
    """
    result = session.execute(
        update(AssistanceRequest)
        .where(
            AssistanceRequest.id == request.id,
            AssistanceRequest.status == AssistanceStatus.OPEN,
            AssistanceRequest.round == request.round,
            AssistanceRequest.accepted_shop_id.is_(None),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    session.refresh(request)
    return result.rowcount == 1


def request_assistance(
    session: Session,
    actor: User,
    vehicle: Vehicle,
    lat: float,
    lon: float,
    description: str,
    photos: list[str],
    index: ShopIndex,
    settings: NetworkSettings,
) -> AssistanceRequest:
    """Create a driver's roadside request and offer it to the nearest open roadside shops."""
    if actor.role != Role.DRIVER:
        raise Forbidden("only drivers ask for roadside assistance")
    if not is_own_customer(actor, vehicle.owner):
        raise Forbidden("you can only ask for help for your own vehicles", field="vin")
    if not description.strip():
        raise InvalidInput("describe the problem", field="description")
    # Row 7: one open request per truck. The vehicle's row lock makes two requests of one truck take turns, so
    # the second one sees the first (PostgreSQL; SQLite runs writers one at a time).
    lock_row(session, Vehicle, vehicle.id)
    already = session.scalar(
        select(AssistanceRequest.id).where(
            AssistanceRequest.vehicle_id == vehicle.id, AssistanceRequest.status.in_(OPEN_STATES)
        )
    )
    if already is not None:
        raise Conflict("this vehicle already has open roadside request %(request)s", field="vin", request=already)
    now = utcnow()
    request = AssistanceRequest(
        customer=find_customer_for_user(session, actor) or vehicle.owner,
        vehicle=vehicle,
        lat=lat,
        lon=lon,
        description=description.strip(),
        photos=photos,
        radius_km=settings.assistance_radii_km[0],
        created_at=now,
        round_started_at=now,
    )
    session.add(request)
    session.flush()
    _start_rounds(session, request, index, settings, now)
    session.flush()
    return request


def advance_request(
    session: Session, request: AssistanceRequest, index: ShopIndex, settings: NetworkSettings, now: datetime
) -> bool:
    """Widen or escalate one open request whose round has timed out; tell whether it changed."""
    if request.status != AssistanceStatus.OPEN or now < round_deadline(request, settings):
        return False
    if request.round + 1 >= len(settings.assistance_radii_km):
        return _claim_round(session, request, {"status": AssistanceStatus.ESCALATED, "escalated_at": now})
    if not _claim_round(session, request, {"round": request.round + 1, "round_started_at": now}):
        return False
    _start_rounds(session, request, index, settings, now)
    session.flush()
    return True


def advance_requests(session: Session, index: ShopIndex, settings: NetworkSettings, now: datetime | None = None) -> int:
    """Advance every open request whose round has timed out (the periodic job); return how many changed."""
    now = now or utcnow()
    deadline = now - timedelta(seconds=settings.assistance_timeout_seconds)
    due = session.scalars(
        select(AssistanceRequest)
        .where(AssistanceRequest.status == AssistanceStatus.OPEN, AssistanceRequest.round_started_at <= deadline)
        .order_by(AssistanceRequest.id)
    ).all()
    return sum(advance_request(session, request, index, settings, now) for request in due)


def eta_minutes(distance_km: float, settings: NetworkSettings) -> int:
    """Return the estimated minutes until a shop `distance_km` away arrives."""
    return settings.assistance_preparation_minutes + math.ceil(distance_km / settings.assistance_speed_kmh * 60)


def _find_offer(session: Session, request: AssistanceRequest, shop: Shop) -> AssistanceOffer | None:
    return session.scalar(
        select(AssistanceOffer).where(AssistanceOffer.request_id == request.id, AssistanceOffer.shop_id == shop.id)
    )


def accept_request(
    session: Session, actor: User, request: AssistanceRequest, shop: Shop, settings: NetworkSettings
) -> AssistanceRequest:
    """Let a shop that was offered the job take it; exactly one shop ever succeeds, the others get 409."""
    require_member(actor, shop.organization_id, Role.SHOP_STAFF)
    offer = _find_offer(session, request, shop)
    if offer is None:
        raise Forbidden("shop %(shop_code)s was not offered this job", field="shop", shop_code=shop.code)
    return _give_to(session, request, offer, eta_minutes(offer.distance_km, settings), assigned_by=None)


def assign_request(
    session: Session, actor: User, request: AssistanceRequest, shop: Shop, settings: NetworkSettings
) -> AssistanceRequest:
    """Give a waiting request to a shop the OEM desk has called; like an acceptance, only while nobody has it."""
    if not is_oem(actor):
        raise Forbidden("only the OEM assigns roadside jobs")
    if shop.status != ShopStatus.ACTIVE:
        raise Conflict("shop %(shop)s is %(status)s, not taking work", field="shop", shop=shop.code, status=shop.status)
    offer = _find_offer(session, request, shop)
    if offer is None:
        distance = great_circle_km(request.lat, request.lon, shop.lat, shop.lon)
        offer = AssistanceOffer(
            request_id=request.id, shop_id=shop.id, round=request.round, distance_km=round(distance, 2)
        )
        session.add(offer)
        session.flush()
    given = _give_to(session, request, offer, eta_minutes(offer.distance_km, settings), assigned_by=actor)
    record_activity(session, actor, "network.roadside_assigned", "assistance_request", request.id, shop=shop.code)
    return given


def _give_to(
    session: Session, request: AssistanceRequest, offer: AssistanceOffer, eta: int, assigned_by: User | None
) -> AssistanceRequest:
    """Hand the request to the offer's shop if it is still waiting; the other open offers are lost."""
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
    return request


def candidate_to_dict(shop: Shop, distance_km: float, settings: NetworkSettings) -> dict:
    """Render a shop the OEM desk may call: contact, distance, whether it does roadside work and is open now."""
    return {
        "code": shop.code,
        "name": shop.name,
        "phone": shop.phone,
        "distance_km": round(distance_km, 1),
        "eta_minutes": eta_minutes(distance_km, settings),
        "roadside": Service.ROADSIDE in (shop.services or []),
        "open_now": is_open_at(shop.opening_hours, shop.open_24h, utcnow(), settings.zone),
    }


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


def decline_request(session: Session, actor: User, request: AssistanceRequest, shop: Shop) -> AssistanceOffer:
    """Record that a shop declines the job it was offered."""
    require_member(actor, shop.organization_id, Role.SHOP_STAFF)
    offer = _find_offer(session, request, shop)
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
        allowed = (*WAITING, AssistanceStatus.ACCEPTED)
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
    return request


def get_request_for(session: Session, actor: User, request_id: int) -> AssistanceRequest:
    """Return a request the actor may see: its driver, the shops it was offered to, or the OEM."""
    request = session.get(AssistanceRequest, request_id)
    if request is None:
        raise NotFound("no such roadside request", field="id")
    if is_oem(actor) or is_own_customer(actor, request.customer):
        return request
    if actor.role == Role.SHOP_STAFF and any(
        offer.shop.organization_id == actor.organization_id for offer in request.offers
    ):
        return request
    raise NotFound("no such roadside request", field="id")


def select_requests_for(actor: User, status: str | None) -> Select:
    """Return the query for the requests the actor may list: a driver's own, a shop's offers, or all (OEM)."""
    statement = select(AssistanceRequest).order_by(AssistanceRequest.created_at.desc(), AssistanceRequest.id.desc())
    if status:
        if status not in AssistanceStatus.__members__.values():
            raise InvalidInput("unknown status %(status)r", field="status", status=status)
        statement = statement.where(AssistanceRequest.status == status)
    if is_oem(actor):
        return statement
    if actor.role == Role.DRIVER:
        return statement.join(AssistanceRequest.customer).where(Customer.user_id == actor.id)
    if actor.role == Role.SHOP_STAFF:
        offered = (
            select(AssistanceOffer.request_id)
            .join(AssistanceOffer.shop)
            .where(Shop.organization_id == actor.organization_id)
        )
        return statement.where(AssistanceRequest.id.in_(offered))
    raise Forbidden("roadside requests are for drivers, shops and the OEM")


def request_to_dict(request: AssistanceRequest, actor: User | None, zone) -> dict:
    """Render a request: the driver sees the assigned shop, its phone and ETA; shops see the offers' status."""
    shop = request.accepted_shop
    full_contact = actor is not None and (is_oem(actor) or is_own_customer(actor, request.customer))
    # The shop that took the job needs the driver's number; shops that were only offered it do not.
    assigned_to_actor = shop is not None and actor is not None and actor.organization_id == shop.organization_id
    body = {
        "id": request.id,
        "status": request.status,
        "lat": request.lat,
        "lon": request.lon,
        "description": request.description,
        "photos": list(request.photos),
        "vin": request.vehicle.vin,
        "plate": request.vehicle.plate,
        # Row 14: shops only offered the job see the driver masked until one of them has it.
        "driver": request.customer.name if full_contact or assigned_to_actor else mask_name(request.customer.name),
        "driver_phone": request.customer.phone
        if full_contact or assigned_to_actor
        else mask_phone(request.customer.phone),
        "round": request.round,
        "radius_km": request.radius_km,
        "created_at": request.created_at.astimezone(zone).isoformat(),
        "escalated_at": request.escalated_at.astimezone(zone).isoformat() if request.escalated_at else None,
        "accepted_at": request.accepted_at.astimezone(zone).isoformat() if request.accepted_at else None,
        "eta_minutes": request.eta_minutes,
        "assigned_by_oem": request.assigned_by_id is not None,
        "assigned_shop": (
            {"code": shop.code, "name": shop.name, "phone": shop.phone, "lat": shop.lat, "lon": shop.lon}
            if shop
            else None
        ),
        "offers": [
            {
                "shop": offer.shop.code,
                "shop_name": offer.shop.name,
                "distance_km": offer.distance_km,
                "round": offer.round,
                "status": offer.status,
            }
            for offer in request.offers
            if actor is not None
            and (
                is_oem(actor)
                or is_own_customer(actor, request.customer)
                or offer.shop.organization_id == actor.organization_id
            )
        ],
    }
    return body


def _rescued_by(organization_id: int):
    return (
        select(AssistanceRequest.vehicle_id)
        .join(Shop, Shop.id == AssistanceRequest.accepted_shop_id)
        .where(Shop.organization_id == organization_id)
    )


# A shop's staff see the trucks whose roadside job it took (app.crm.relations).
register_vehicle_relation(_rescued_by)
