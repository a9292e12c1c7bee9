"""Roadside requests: a driver asks for help (one open request per truck), and who may see or list requests.

The other jobs of roadside assistance each have their module: network.rounds (offering in widening radii and
escalating), network.acceptance (first accept wins, declines, closing), network.desk (the OEM's desk), and
network.rendering (what the API and pages show).
"""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.crm.customers import find_customer_for_user, is_own_customer
from app.crm.models import Customer, Vehicle
from app.crm.personal_data import ensure_not_erased
from app.crm.relations import register_vehicle_relation
from app.crm.touchpoints import Channel, record_touchpoint
from app.db import utcnow
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.security import Role, User, is_oem
from network.acceptance import WAITING
from network.booking import lock_row
from network.models import AssistanceOffer, AssistanceRequest, AssistanceStatus, Shop
from network.rounds import start_rounds
from network.search import ShopIndex
from network.settings import NetworkSettings

# A request still being handled: a truck has at most one (row 7 of issue 10).
OPEN_STATES = (*WAITING, AssistanceStatus.ACCEPTED)

# As long as the request's description column (AssistanceRequest.description).
DESCRIPTION_MAX_LENGTH = 1000


def open_request_of(session: Session, vehicle_id: int) -> AssistanceRequest | None:
    """Return the truck's open (waiting or accepted) roadside request, if it has one; it has at most one."""
    return session.scalar(
        select(AssistanceRequest).where(
            AssistanceRequest.vehicle_id == vehicle_id, AssistanceRequest.status.in_(OPEN_STATES)
        )
    )


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
    if len(description.strip()) > DESCRIPTION_MAX_LENGTH:
        # The page form reaches here without the API schema's limit; the column would refuse it with a 500.
        raise InvalidInput(
            "describe the problem in at most %(length)s characters", field="description", length=DESCRIPTION_MAX_LENGTH
        )
    ensure_not_erased(session, (find_customer_for_user(session, actor) or vehicle.owner).id)
    # Row 7: one open request per truck. The vehicle's row lock makes two requests of one truck take turns, so
    # the second one sees the first (PostgreSQL; SQLite runs writers one at a time).
    lock_row(session, Vehicle, vehicle.id)
    already = open_request_of(session, vehicle.id)
    if already is not None:
        raise Conflict("this vehicle already has open roadside request %(request)s", field="vin", request=already.id)
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
    start_rounds(session, request, index, settings, now)
    # A truck broken down on the road needs parts and service: a touchpoint for the leads domain.
    record_touchpoint(
        session, channel=Channel.ROADSIDE, kind="repair", source_type="assistance_request", source_id=request.id,
        customer=request.customer, vehicle=vehicle, summary="asked for roadside help", occurred_at=now,
    )  # fmt: skip
    session.flush()
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


def _rescued_by(organization_id: int):
    return (
        select(AssistanceRequest.vehicle_id)
        .join(Shop, Shop.id == AssistanceRequest.accepted_shop_id)
        .where(Shop.organization_id == organization_id)
    )


# A shop's staff see the trucks whose roadside job it took (app.crm.relations).
register_vehicle_relation(_rescued_by)
