"""Custody appliers: what each event type checks of its own fields and does to the parts it names.

An applier runs after the state machine accepted every part (custody_rules); it returns the attribute changes
for each part, which the operation applies in one flush, and records what the event adds beside the parts
(a sale per part, the installation, the closed installation)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.customers import create_customer
from app.crm.identifiers import normalize_phone, normalize_vin
from app.crm.models import Customer, Organization, OrganizationKind
from app.crm.organizations import get_organization
from app.crm.vehicles import find_vehicle
from app.db import utcnow
from app.errors import Conflict, CountedFailure, InvalidInput, NotFound
from app.security import User, ensure_attempts_left, record_attempt
from app.signing import KeyRing
from traceability.alerts import raise_alert
from traceability.codes import is_activation_code
from traceability.custody_history import find_open_installation
from traceability.custody_input import EventRequest
from traceability.custody_rules import AlertedConflict
from traceability.models import CustodyEvent, EventType, Installation, Part, PartState, Sale
from traceability.settings import CustodyLimits

ACTIVATION_BUCKET = "activation"


@dataclass(frozen=True)
class EventContext:
    """Everything an applier may read: the event being built, its parts (locked, accepted) and its request."""

    session: Session
    ring: KeyRing
    actor: User
    organization: Organization
    parts: list[Part]
    event: CustodyEvent
    request: EventRequest
    limits: CustodyLimits
    client: str


# The columns an event changes on one part, applied by the operation to every part it names.
PartChanges = Callable[[Part], dict[str, object]]
Applier = Callable[[EventContext], PartChanges]


def apply_ship(context: EventContext) -> PartChanges:
    """Send the parts to another organization: they are in transit to it until it receives them."""
    request, organization = context.request, context.organization
    if not request.to:
        raise InvalidInput("name the organization the parts go to", field="to")
    destination = get_organization(context.session, request.to, field="to")
    if destination.id == organization.id:
        raise InvalidInput("parts cannot be shipped to their own holder", field="to")
    if destination.kind == OrganizationKind.FLEET:
        raise InvalidInput("parts are shipped to factories, warehouses, dealers or shops", field="to")
    context.event.destination_id = destination.id
    return lambda part: {"state": PartState.IN_TRANSIT.value, "destination_id": destination.id}


def apply_receive(context: EventContext) -> PartChanges:
    """Take the parts shipped to the organization into its stock."""
    holder_id = context.organization.id
    return lambda part: {"state": PartState.IN_STOCK.value, "holder_id": holder_id, "destination_id": None}


def apply_sell(context: EventContext) -> PartChanges:
    """Sell the parts to an organization, or to a driver (who then holds them: no holder organization)."""
    session, request = context.session, context.request
    buyer = get_organization(session, request.to, field="to") if request.to else None
    if buyer is not None and buyer.id == context.organization.id:
        raise InvalidInput("a holder cannot sell to itself", field="to")
    if request.buyer_phone:
        context.event.buyer_customer_id = _buyer_customer(session, request.buyer_phone).id
    context.event.destination_id = buyer.id if buyer else None
    buyer_id = buyer.id if buyer else None
    return lambda part: {"state": PartState.SOLD.value, "holder_id": buyer_id}


def apply_install(context: EventContext) -> PartChanges:
    """Fit the one part on a vehicle, proven by the part's activation code."""
    session, request, part = context.session, context.request, context.parts[0]
    if not request.vin:
        raise InvalidInput("installation needs the vehicle's VIN", field="vin")
    vehicle = find_vehicle(session, normalize_vin(request.vin))
    if vehicle is None:
        raise NotFound("no vehicle with VIN %(vin)s", field="vin", vin=request.vin)
    check_activation_code(
        session, context.ring, part, request.activation_code or "", context.limits, context.client, context.organization
    )
    context.event.vehicle_id = vehicle.id
    now = utcnow()
    return lambda _part: {
        "state": PartState.INSTALLED.value,
        "holder_id": None,
        "vehicle_id": vehicle.id,
        "activated_at": now,
    }


def apply_remove(context: EventContext) -> PartChanges:
    """Take the one part off the vehicle the request names; the removing organization holds it afterwards."""
    request, part = context.request, context.parts[0]
    if not request.vin or part.vehicle is None or part.vehicle.vin != normalize_vin(request.vin):
        raise Conflict("the part is not installed on that vehicle", field="vin", reason_code="other_vehicle")
    context.event.vehicle_id = part.vehicle_id
    holder_id = context.organization.id
    return lambda _part: {"state": PartState.REMOVED.value, "holder_id": holder_id, "vehicle_id": None}


def apply_destroy(context: EventContext) -> PartChanges:
    """Record that the parts were destroyed: their codes scan void from now on."""
    return lambda part: {"state": PartState.DESTROYED.value, "destination_id": None}


def apply_inspect(context: EventContext) -> PartChanges:
    """Record an inspection: the parts keep their state."""
    return lambda part: {}


APPLIERS: dict[EventType, Applier] = {
    EventType.SHIP: apply_ship,
    EventType.RECEIVE: apply_receive,
    EventType.SELL: apply_sell,
    EventType.INSTALL: apply_install,
    EventType.REMOVE: apply_remove,
    EventType.DESTROY: apply_destroy,
    EventType.INSPECT: apply_inspect,
}


def record_event_effects(session: Session, event: CustodyEvent, parts: list[Part], organization: Organization) -> None:
    """Record what the event adds beside the parts' own rows: sales, the installation, the closed installation."""
    if event.event_type == EventType.SELL:
        _record_sales(session, parts, event, organization)
    elif event.event_type == EventType.INSTALL:
        _record_installation(session, parts[0], event, organization)
    elif event.event_type == EventType.REMOVE:
        _close_installation(session, parts[0], event.occurred_at)


def _buyer_customer(session: Session, phone: str) -> Customer:
    phone = normalize_phone(phone, field="buyer_phone")
    customer = session.scalar(select(Customer).where(Customer.phone == phone))
    return customer or create_customer(session, kind="driver", name=phone[-4:], phone=phone)


def check_activation_code(
    session: Session,
    ring: KeyRing,
    part: Part,
    code: str,
    limits: CustodyLimits,
    client: str,
    organization: Organization,
) -> None:
    """Accept the part's activation code once; count and limit wrong ones per part and per client."""
    if not code.strip():
        raise InvalidInput("installation needs the part's activation code", field="activation_code")
    # Wrong codes count per (part, organization) for the holder's own shop, and per part for everyone else:
    # strangers guessing a driver's part cannot lock out the shop that holds it or installs it.
    own_key = f"part:{part.id}:org:{organization.id}"
    shared_key = own_key if _is_holders_shop(session, part, organization) else f"part:{part.id}"
    ensure_attempts_left(
        session, ACTIVATION_BUCKET, [shared_key, own_key], limits.activation_max_failures, limits.activation_window
    )
    ensure_attempts_left(
        session,
        ACTIVATION_BUCKET,
        [f"client:{client}"],
        limits.activation_client_max_failures,
        limits.activation_window,
    )
    if not is_activation_code(ring, part.gtin, part.serial, code, part.activation_hash):
        failure = CountedFailure("wrong activation code", field="activation_code")
        for key in dict.fromkeys((shared_key, own_key, f"client:{client}")):
            failure.keeping(session, partial(record_attempt, bucket=ACTIVATION_BUCKET, key=key))
        raise failure
    if part.activated_at is not None:
        # Only reachable with a genuine code on a part that is not installed: a replayed or copied code.
        raise AlertedConflict(
            "this activation code was already used", field="activation_code", reason_code="used"
        ).keeping(
            session, partial(raise_alert, cause="activation_replayed", part=part, organization_id=organization.id)
        )


def _is_holders_shop(session: Session, part: Part, organization: Organization) -> bool:
    """Tell whether the organization holds the part, sold it, or installed it: the shop a holder relies on."""
    if organization.id in (part.holder_id, part.sold_by_id):
        return True
    installer = select(Installation.id).where(
        Installation.part_id == part.id, Installation.organization_id == organization.id
    )
    return session.scalar(installer.limit(1)) is not None


def _record_sales(session: Session, parts: list[Part], event: CustodyEvent, seller: Organization) -> None:
    session.execute(
        Sale.__table__.insert(),
        [
            {
                "part_id": part.id,
                "part_type_id": part.part_type_id,
                "seller_id": seller.id,
                "buyer_organization_id": event.destination_id,
                "buyer_customer_id": event.buyer_customer_id,
                "price": event.price,
                "event_id": event.id,
                "sold_at": event.occurred_at,
            }
            for part in parts
        ],
    )


def _record_installation(session: Session, part: Part, event: CustodyEvent, installer: Organization) -> None:
    session.add(
        Installation(
            part_id=part.id,
            vehicle_id=event.vehicle_id,
            organization_id=installer.id,
            event_id=event.id,
            installed_at=event.occurred_at,
        )
    )


def _close_installation(session: Session, part: Part, removed_at: datetime) -> None:
    installation = find_open_installation(session, part)
    if installation is not None:
        installation.removed_at = removed_at
