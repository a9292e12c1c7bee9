"""Custody events: the part state machine, holder checks, installation with activation codes, all or nothing."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from functools import partial

from sqlalchemy import CompoundSelect, select, union_all
from sqlalchemy.orm import Session, joinedload

from app.clock import DEFAULT_TIMEZONE, local_date
from app.crm.activity import record_activity
from app.crm.customers import create_customer
from app.crm.identifiers import normalize_phone, normalize_vin
from app.crm.models import Customer, Organization, OrganizationKind, Vehicle
from app.crm.organizations import get_organization
from app.crm.relations import register_vehicle_relation
from app.crm.vehicles import find_vehicle
from app.db import utcnow
from app.errors import Conflict, CountedFailure, Forbidden, InvalidInput, NotFound
from app.security import Role, User, ensure_attempts_left, is_oem, record_attempt
from app.signing import KeyRing
from traceability.alerts import raise_alert
from traceability.catalogue import parse_money
from traceability.chain import append_event, parts_digest
from traceability.codes import is_activation_code
from traceability.custody_input import (
    EventRequest,
    part_field,
    read_occurred_at,
    read_part_references,
    read_position,
    read_reason,
)
from traceability.custody_locks import load_parts
from traceability.models import CustodyEvent, CustodyEventPart, EventType, Installation, Part, PartState, Sale
from traceability.scan_render import add_months
from traceability.service_access import vehicle_is_at
from traceability.settings import CustodyLimits

# Places kept per part for the far-from-chain check (parts.chain_places); a real chain names a handful.
MAX_CHAIN_PLACES = 64
INSTALLER_ROLES = (Role.SHOP_STAFF, Role.DEALER_STAFF)
ACTIVATION_BUCKET = "activation"
# What an event's rendering names, loaded with the events in one statement.
EVENT_NAMES = (
    joinedload(CustodyEvent.organization),
    joinedload(CustodyEvent.destination),
    joinedload(CustodyEvent.vehicle),
)

BUSINESS_STEPS = {
    EventType.SHIP: "shipping",
    EventType.RECEIVE: "receiving",
    EventType.SELL: "retail_selling",
    EventType.INSTALL: "installing",
    EventType.REMOVE: "removing",
    EventType.DESTROY: "destroying",
    EventType.INSPECT: "inspecting",
}
DISPOSITIONS = {
    PartState.PRODUCED: "active",
    PartState.IN_TRANSIT: "in_transit",
    PartState.IN_STOCK: "sellable_accessible",
    PartState.SOLD: "retail_sold",
    PartState.INSTALLED: "in_progress",
    PartState.REMOVED: "non_sellable_other",
    PartState.DESTROYED: "destroyed",
}
# The state machine of DESIGN.md section 5: which states each event accepts, and the state it leaves.
TRANSITIONS: dict[str, tuple[frozenset[str], str | None]] = {
    EventType.SHIP: (frozenset({PartState.PRODUCED, PartState.IN_STOCK, PartState.REMOVED}), PartState.IN_TRANSIT),
    EventType.RECEIVE: (frozenset({PartState.IN_TRANSIT}), PartState.IN_STOCK),
    EventType.SELL: (frozenset({PartState.IN_STOCK}), PartState.SOLD),
    EventType.INSTALL: (frozenset({PartState.IN_STOCK, PartState.SOLD}), PartState.INSTALLED),
    EventType.REMOVE: (frozenset({PartState.INSTALLED}), PartState.REMOVED),
    EventType.DESTROY: (
        frozenset({PartState.PRODUCED, PartState.IN_TRANSIT, PartState.IN_STOCK, PartState.SOLD, PartState.REMOVED}),
        PartState.DESTROYED,
    ),
    EventType.INSPECT: (frozenset(PartState) - {PartState.DESTROYED}, None),
}
# Events that correct the record rather than move goods along the chain: each is in the activity log.
CORRECTIONS = frozenset({EventType.REMOVE, EventType.DESTROY, EventType.INSPECT})
# Parts named in one activity entry (the event itself names them all).
ACTIVITY_PARTS = 50
# Recalled parts may still move back up the chain and be inspected or destroyed, never sold or fitted.
BLOCKED_BY_RECALL = frozenset({EventType.SELL, EventType.INSTALL})
# Refused moves that are also clone signals: a used part offered as new, a code activated twice.
ALERTING_MOVES = {
    (EventType.SELL, PartState.INSTALLED): "resale_after_install",
    (EventType.SELL, PartState.REMOVED): "resale_after_removal",
    (EventType.INSTALL, PartState.INSTALLED): "activation_after_install",
    (EventType.INSTALL, PartState.REMOVED): "activation_after_install",
    (EventType.INSTALL, PartState.DESTROYED): "activation_of_destroyed",
    (EventType.SELL, PartState.DESTROYED): "resale_of_destroyed",
}


class AlertedConflict(Conflict):
    """A refused move that also raised an alert; the alert is a kept write, so it survives the rollback."""


def _actor_organization(session: Session, actor: User) -> Organization:
    organization = session.get(Organization, actor.organization_id) if actor.organization_id else None
    if organization is None:
        raise Forbidden("custody events are recorded by the staff of an organization")
    return organization


def check_transition(
    session: Session,
    event_type: str,
    parts: list[Part],
    actor: User,
    organization: Organization,
    zone: str = DEFAULT_TIMEZONE,
) -> None:
    """Refuse (403, or 409 with the reason) the first part the event cannot apply to.

    The holder is checked first: an organization that has no part in a part's custody is told only that it does
    not hold it, whatever the part's state (an attempt that is also a clone signal still alerts the OEM)."""
    allowed, _target = TRANSITIONS[event_type]
    for index, part in enumerate(parts):
        name = part_field(index)
        in_state = part.state in allowed
        if not in_state:
            cause = ALERTING_MOVES.get((event_type, part.state))
            alert = (
                partial(
                    raise_alert,
                    cause=cause,
                    part=part,
                    organization_id=organization.id,
                    details={"by": organization.code},
                )
                if cause is not None
                else None
            )
            if not _concerns(session, part, actor, organization):
                _refuse_stranger(session, part, organization, name, alert)
            reason = f"{part.gtin}/{part.serial} is {part.state}; {event_type} is not possible from there"
            error_type = Conflict if alert is None else AlertedConflict
            error = error_type(reason, field=name, reason_code="invalid_transition", state=part.state)
            raise error if alert is None else error.keeping(session, alert)
        if not _may_act_on(session, event_type, part, actor, organization, zone):
            _refuse_stranger(session, part, organization, name, None)
        if part.recall_id is not None and event_type in BLOCKED_BY_RECALL:
            raise Conflict(
                "%(part_gtin)s/%(part_serial)s is under recall",
                field=name,
                reason_code="recalled",
                part_gtin=part.gtin,
                part_serial=part.serial,
            )


def _refuse_stranger(session: Session, part: Part, organization: Organization, name: str, alert) -> None:
    error = Forbidden(
        "%(organization_code)s does not hold %(part_gtin)s/%(part_serial)s",
        field=name,
        reason_code="not_holder",
        organization_code=organization.code,
        part_gtin=part.gtin,
        part_serial=part.serial,
    )
    raise error if alert is None else error.keeping(session, alert)


def _concerns(session: Session, part: Part, actor: User, organization: Organization) -> bool:
    """Tell whether the organization has a part in the part's custody, so that it may learn its state."""
    if is_oem(actor) or organization.id in (part.holder_id, part.destination_id, part.sold_by_id):
        return True
    if part.state == PartState.SOLD and part.holder_id is None:
        # A driver's part: the shop the driver brings it to sees it in their hands.
        return actor.has_role(*INSTALLER_ROLES)
    installer = select(Installation.id).where(
        Installation.part_id == part.id, Installation.organization_id == organization.id
    )
    return session.scalar(installer.limit(1)) is not None


def _may_act_on(
    session: Session, event_type: str, part: Part, actor: User, organization: Organization, zone: str
) -> bool:
    if event_type == EventType.RECEIVE:
        return part.destination_id == organization.id
    if event_type == EventType.INSTALL:
        # A part sold to a driver is fitted by whichever shop the driver chooses; the activation code proves it.
        bought_by_driver = part.state == PartState.SOLD and part.holder_id is None
        return actor.has_role(*INSTALLER_ROLES) and (part.holder_id == organization.id or bought_by_driver)
    if event_type == EventType.REMOVE:
        return is_oem(actor) or (
            actor.has_role(*INSTALLER_ROLES) and _services_vehicle(session, part, organization, zone)
        )
    if event_type in (EventType.DESTROY, EventType.INSPECT):
        on_vehicle = part.state == PartState.INSTALLED and actor.has_role(*INSTALLER_ROLES)
        return is_oem(actor) or part.holder_id == organization.id or on_vehicle
    return part.holder_id == organization.id


def _services_vehicle(session: Session, part: Part, organization: Organization, zone: str) -> bool:
    """Tell whether the organization may take the part off its vehicle: the vehicle is at its shop now (a
    checked-in booking or an accepted roadside job, answered by the registered presence check), or it installed
    the part and the part's warranty from that installation still runs (warranty work)."""
    if part.vehicle_id is not None and vehicle_is_at(session, organization.id, part.vehicle_id):
        return True
    installation = find_open_installation(session, part)
    if installation is None or installation.organization_id != organization.id:
        return False
    months = part.part_type.warranty_months
    return local_date(utcnow(), zone) <= warranty_end(installation.installed_at, months, zone)


def warranty_end(installed_at: datetime, months: int, zone: str | None = None) -> date:
    """Return the last local day of a warranty of `months` from an installation, as the scan page shows it."""
    return add_months(local_date(installed_at, zone), months)


def record_event(
    session: Session, ring: KeyRing, actor: User, request: EventRequest, limits: CustodyLimits, client: str
) -> CustodyEvent:
    """Validate a custody event against every part it names, then apply it to all of them, or to none."""
    if request.type not in TRANSITIONS:
        raise InvalidInput(f"type is one of {', '.join(TRANSITIONS)}", field="type")
    event_type = EventType(request.type)
    organization = _actor_organization(session, actor)
    occurred_at, offset = read_occurred_at(request.occurred_at)
    lat, lon = read_position(request)
    price = parse_money(request.price, "price") if request.price is not None else None
    if price is not None and event_type != EventType.SELL:
        raise InvalidInput("a price belongs to a sell event", field="price")
    pairs = read_part_references(ring, request.parts, limits.max_parts)
    if event_type in (EventType.INSTALL, EventType.REMOVE) and len(pairs) != 1:
        raise InvalidInput("%(event_type)s names exactly one part", field="parts", event_type=event_type)
    parts = load_parts(session, pairs)
    check_transition(session, event_type, parts, actor, organization, limits.timezone)
    # After the holder check: a stranger learns only that it does not hold the part.
    reason = read_reason(request, event_type)

    event = CustodyEvent(
        event_type=event_type,
        business_step=BUSINESS_STEPS[event_type],
        occurred_at=occurred_at,
        occurred_offset_minutes=offset,
        organization_id=organization.id,
        user_id=actor.id,
        lat=lat,
        lon=lon,
        price=price,
        part_count=len(parts),
        parts_digest=parts_digest(f"{gtin}|{serial}" for gtin, serial in pairs),
    )
    apply = APPLIERS[event_type]
    changes = apply(session, ring, actor, organization, parts, event, request, limits, client)
    target = TRANSITIONS[event_type][1]
    event.disposition = DISPOSITIONS[PartState(target or parts[0].state)]
    append_event(session, ring, event, [part.id for part in parts])
    now = utcnow()
    places = _event_places(session, event, organization)
    # Plain attribute changes: the flush groups them into one executemany UPDATE per set of columns.
    for part in parts:
        for name, value in changes(part).items():
            setattr(part, name, value)
        part.updated_at = now
        _keep_chain_places(part, places)
        if event_type == EventType.SELL and (part.sold_at is None or occurred_at >= part.sold_at):
            part.sold_at, part.sold_by_id = occurred_at, organization.id
    if event_type == EventType.SELL:
        _record_sales(session, parts, event, organization)
    elif event_type == EventType.INSTALL:
        _record_installation(session, parts[0], event, organization)
    elif event_type == EventType.REMOVE:
        _close_installation(session, parts[0], occurred_at)
    session.flush()
    if event_type in CORRECTIONS:
        record_activity(
            session,
            actor,
            f"traceability.part_{event_type}",
            "custody_event",
            event.id,
            parts=[f"{gtin}|{serial}" for gtin, serial in pairs[:ACTIVITY_PARTS]],
            part_count=len(pairs),
            vehicle_id=event.vehicle_id,
            **({"reason": reason} if reason else {}),
        )
    return event


def _event_places(session: Session, event: CustodyEvent, organization: Organization) -> list[list[float]]:
    """Return where an event takes its parts: the acting organization and its destination, where located."""
    named = [organization]
    if event.destination_id is not None:
        named.append(session.get(Organization, event.destination_id))
    return [[round(place.lat, 4), round(place.lon, 4)] for place in named if place.lat is not None]


def _keep_chain_places(part: Part, places: list[list[float]]) -> None:
    """Add an event's places to the part's kept chain places (read by the far-from-chain check)."""
    kept = list(part.chain_places or [])
    added = [place for place in places if place not in kept]
    if added:
        part.chain_places = (kept + added)[-MAX_CHAIN_PLACES:]


def _ship(session, ring, actor, organization, parts, event, request, limits, client):
    if not request.to:
        raise InvalidInput("name the organization the parts go to", field="to")
    destination = get_organization(session, request.to, field="to")
    if destination.id == organization.id:
        raise InvalidInput("parts cannot be shipped to their own holder", field="to")
    if destination.kind == OrganizationKind.FLEET:
        raise InvalidInput("parts are shipped to factories, warehouses, dealers or shops", field="to")
    event.destination_id = destination.id
    return lambda part: {"state": PartState.IN_TRANSIT.value, "destination_id": destination.id}


def _receive(session, ring, actor, organization, parts, event, request, limits, client):
    return lambda part: {"state": PartState.IN_STOCK.value, "holder_id": organization.id, "destination_id": None}


def _sell(session, ring, actor, organization, parts, event, request, limits, client):
    buyer = get_organization(session, request.to, field="to") if request.to else None
    if buyer is not None and buyer.id == organization.id:
        raise InvalidInput("a holder cannot sell to itself", field="to")
    if request.buyer_phone:
        event.buyer_customer_id = _buyer_customer(session, request.buyer_phone).id
    event.destination_id = buyer.id if buyer else None
    return lambda part: {"state": PartState.SOLD.value, "holder_id": buyer.id if buyer else None}


def _buyer_customer(session: Session, phone: str) -> Customer:
    phone = normalize_phone(phone, field="buyer_phone")
    customer = session.scalar(select(Customer).where(Customer.phone == phone))
    return customer or create_customer(session, kind="driver", name=phone[-4:], phone=phone)


def _install(session, ring, actor, organization, parts, event, request, limits, client):
    part = parts[0]
    if not request.vin:
        raise InvalidInput("installation needs the vehicle's VIN", field="vin")
    vehicle = find_vehicle(session, normalize_vin(request.vin))
    if vehicle is None:
        raise NotFound("no vehicle with VIN %(vin)s", field="vin", vin=request.vin)
    check_activation_code(session, ring, part, request.activation_code or "", limits, client, organization)
    event.vehicle_id = vehicle.id
    now = utcnow()
    return lambda _part: {
        "state": PartState.INSTALLED.value,
        "holder_id": None,
        "vehicle_id": vehicle.id,
        "activated_at": now,
    }


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


def _remove(session, ring, actor, organization, parts, event, request, limits, client):
    part = parts[0]
    if not request.vin or part.vehicle is None or part.vehicle.vin != normalize_vin(request.vin):
        raise Conflict("the part is not installed on that vehicle", field="vin", reason_code="other_vehicle")
    event.vehicle_id = part.vehicle_id
    return lambda _part: {"state": PartState.REMOVED.value, "holder_id": organization.id, "vehicle_id": None}


def _destroy(session, ring, actor, organization, parts, event, request, limits, client):
    return lambda part: {"state": PartState.DESTROYED.value, "destination_id": None}


def _inspect(session, ring, actor, organization, parts, event, request, limits, client):
    return lambda part: {}


APPLIERS = {
    EventType.SHIP: _ship,
    EventType.RECEIVE: _receive,
    EventType.SELL: _sell,
    EventType.INSTALL: _install,
    EventType.REMOVE: _remove,
    EventType.DESTROY: _destroy,
    EventType.INSPECT: _inspect,
}


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


def find_open_installation(session: Session, part: Part) -> Installation | None:
    """Return the installation that currently holds a part on a vehicle, if any."""
    return session.scalar(
        select(Installation).where(Installation.part_id == part.id, Installation.removed_at.is_(None))
    )


def list_vehicle_installations(session: Session, vehicle: Vehicle) -> list[Installation]:
    """Return the parts currently installed on a vehicle, newest first."""
    return list(
        session.scalars(
            select(Installation)
            .where(Installation.vehicle_id == vehicle.id, Installation.removed_at.is_(None))
            .order_by(Installation.installed_at.desc())
        )
    )


def list_part_events(session: Session, part) -> list[CustodyEvent]:
    """Return a part's custody events (commissioning first), oldest first, with the organizations and vehicle
    they name; `part` has id and batch_id."""
    statement = (
        select(CustodyEvent)
        .options(*EVENT_NAMES)
        .where(CustodyEvent.id.in_(select_part_event_ids(part.id, part.batch_id)))
        .order_by(CustodyEvent.occurred_at, CustodyEvent.id)
    )
    return list(session.scalars(statement))


def select_part_event_ids(part_id: int, batch_id: int) -> CompoundSelect:
    """Return the query for the ids of the events that name a part or commission its batch."""
    # A UNION of two indexed selects: an OR of the two conditions leaves PostgreSQL no index to use, and it
    # walks the whole event table (D-06).
    named = select(CustodyEventPart.event_id).where(CustodyEventPart.part_id == part_id)
    commissioned = select(CustodyEvent.id).where(
        CustodyEvent.batch_id == batch_id, CustodyEvent.event_type == EventType.COMMISSION
    )
    return union_all(named, commissioned)


def price_text(value: Decimal | None) -> str | None:
    """Render an amount in CNY with two decimals."""
    return None if value is None else f"{value:.2f}"


def event_to_dict(event: CustodyEvent) -> dict:
    """Render a custody event for the organizations in the chain (no personal data)."""
    offset = timedelta(minutes=event.occurred_offset_minutes)
    return {
        "id": event.id,
        "sequence": event.sequence,
        "type": event.event_type,
        "business_step": event.business_step,
        "disposition": event.disposition,
        "occurred_at": event.occurred_at.astimezone(timezone(offset)).isoformat(),
        "recorded_at": event.recorded_at.isoformat(),
        "organization": event.organization.code,
        "city": event.organization.city,
        "to": event.destination.code if event.destination else None,
        "vin": event.vehicle.vin if event.vehicle else None,
        "price": price_text(event.price),
        "part_count": event.part_count,
        "hash": event.hash,
    }


def _serviced_by(organization_id: int):
    return select(Installation.vehicle_id).where(Installation.organization_id == organization_id)


# The staff of a shop that installed parts on a truck see that truck (app.crm.relations).
register_vehicle_relation(_serviced_by)
