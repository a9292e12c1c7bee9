"""Roadside rounds: offering a breakdown to the nearest open roadside shops in widening radii, then escalating.

A request is offered in rounds: round n offers it to the nearest open roadside shops within the n-th radius
(ASSISTANCE_RADII_KM) that have not had it yet. When nobody accepts within ASSISTANCE_TIMEOUT_SECONDS the
next round starts; after the last radius the request is escalated to the OEM's desk (network.desk). A round
that finds no new shop moves on at once. The worker does this (network.tasks): a run scheduled at each round's
deadline, and a sweep every minute for any run that was missed. Reading a request never moves it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.db import utcnow
from app.jobs import QUEUE_KEY, enqueue
from network.models import AssistanceOffer, AssistanceRequest, AssistanceStatus, Service
from network.notices import tell_roadside_escalated
from network.search import Filters, ShopIndex, nearest
from network.settings import NetworkSettings

ADVANCE_JOB = "network.advance_assistance_request"


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


def start_rounds(
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
            tell_roadside_escalated(session, request, settings.zone, now)
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


def advance_request(
    session: Session, request: AssistanceRequest, index: ShopIndex, settings: NetworkSettings, now: datetime
) -> bool:
    """Widen or escalate one open request whose round has timed out; tell whether it changed."""
    if request.status != AssistanceStatus.OPEN or now < round_deadline(request, settings):
        return False
    if request.round + 1 >= len(settings.assistance_radii_km):
        escalated = _claim_round(session, request, {"status": AssistanceStatus.ESCALATED, "escalated_at": now})
        if escalated:
            tell_roadside_escalated(session, request, settings.zone, now)
        return escalated
    if not _claim_round(session, request, {"round": request.round + 1, "round_started_at": now}):
        return False
    start_rounds(session, request, index, settings, now)
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
