"""Vehicles: registration by VIN, ownership transfers with history, search and visibility."""

from __future__ import annotations

import contextlib
from datetime import date

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from app.crm.activity import record_activity
from app.crm.customers import customer_to_dict, fleet_of, is_own_customer
from app.crm.identifiers import normalize_phone, normalize_plate, normalize_vin, plate_province
from app.crm.models import Customer, OrganizationKind, Vehicle, VehicleOwnership, VehicleTransfer
from app.crm.organizations import get_organization
from app.crm.regions import parse_province
from app.crm.relations import is_related_vehicle, related_vehicle_ids
from app.db import utcnow
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.security import Role, User, require_role


def register_vehicle(
    session: Session,
    *,
    vin: str,
    model: str,
    owner: Customer,
    engine_serial: str | None = None,
    plate: str | None = None,
    province: str | None = None,
    fleet_code: str | None = None,
    dealer_code: str | None = None,
    sale_date: date | None = None,
    odometer_km: int | None = None,
    verified_by: User | None = None,
    actor: User | None = None,
) -> Vehicle:
    """Register a vehicle and open its first ownership period (logged as `actor`'s, or the seller's).

    `verified_by` is the dealer staff or OEM recording a sale: the record is then verified, and it takes over a
    VIN that only a driver's own (unverified) registration holds, so a stranger typing a VIN first never blocks
    the real buyer's dealer."""
    vin = normalize_vin(vin)
    existing = session.scalar(select(Vehicle).where(Vehicle.vin == vin).with_for_update())
    if existing is not None and (verified_by is None or existing.verified_at is not None):
        raise Conflict("a vehicle with VIN %(vin)s is registered", field="vin", vin=vin)
    if not model or not model.strip():
        raise InvalidInput("a model is required", field="model")
    plate = normalize_plate(plate) if plate else None
    dealer = get_organization(session, dealer_code, field="dealer") if dealer_code else None
    if dealer is not None and dealer.kind != OrganizationKind.DEALER:
        raise InvalidInput("%(dealer_code)s is not a dealer", field="dealer", dealer_code=dealer.code)
    if odometer_km is not None and odometer_km < 0:
        raise InvalidInput("odometer cannot be negative", field="odometer_km")
    if sale_date is not None and sale_date > utcnow().date():
        raise InvalidInput("sale date is in the future", field="sale_date")
    if existing is not None:
        return _replace_unverified(
            session,
            existing,
            verified_by,
            owner=owner,
            model=model.strip(),
            engine_serial=(engine_serial or "").strip() or None,
            plate=plate,
            province=plate_province(plate) or (parse_province(province) if province else existing.province),
            fleet=fleet_of(session, fleet_code) or owner.fleet,
            dealer=dealer,
            sale_date=sale_date,
            odometer_km=odometer_km,
        )
    vehicle = Vehicle(
        vin=vin,
        model=model.strip(),
        engine_serial=(engine_serial or "").strip() or None,
        plate=plate,
        province=plate_province(plate) or (parse_province(province) if province else None),
        owner=owner,
        fleet=fleet_of(session, fleet_code) or owner.fleet,
        dealer=dealer,
        sale_date=sale_date,
        odometer_km=odometer_km,
        verified_at=utcnow() if verified_by is not None else None,
    )
    session.add(vehicle)
    session.flush()
    session.add(VehicleOwnership(vehicle_id=vehicle.id, customer_id=owner.id, started_at=utcnow()))
    session.flush()
    # Bulk loads (the demo, imports) pass no person: only a person's registration is theirs to ask about.
    if (actor or verified_by) is not None:
        record_activity(
            session,
            actor or verified_by,
            "crm.vehicle_added",
            "vehicle",
            vehicle.vin,
            owner=owner.id,
            verified=bool(verified_by),
        )
    return vehicle


def _replace_unverified(
    session: Session, vehicle: Vehicle, actor: User, *, owner: Customer, **fields: object
) -> Vehicle:
    """Record a dealer's sale (or the OEM's record) over a driver's unverified registration of the same VIN."""
    claimed_by = vehicle.owner_id
    for name, value in fields.items():
        setattr(vehicle, name, value)
    vehicle.verified_at = utcnow()
    if owner.id != claimed_by:
        _move_vehicle(session, vehicle, owner, "an unverified registration replaced by the recorded sale")
    session.flush()
    record_activity(
        session, actor, "crm.unverified_vehicle_replaced", "vehicle", vehicle.vin, claimed_by=claimed_by, owner=owner.id
    )
    return vehicle


def verify_vehicle(session: Session, actor: User, vehicle: Vehicle) -> Vehicle:
    """Confirm a vehicle record after an OEM check (of the registration papers, say)."""
    require_role(actor, Role.OEM_ADMIN)
    if vehicle.verified_at is None:
        vehicle.verified_at = utcnow()
        record_activity(session, actor, "crm.vehicle_verified", "vehicle", vehicle.vin)
    return vehicle


def find_vehicle(session: Session, vin: str) -> Vehicle | None:
    """Return the vehicle with `vin` (any case), if registered."""
    return session.scalar(select(Vehicle).where(Vehicle.vin == (vin or "").strip().upper()))


def may_see_vehicle(actor: User, vehicle: Vehicle) -> bool:
    """Drivers see their own vehicles (and fleets theirs); staff find any vehicle by its exact VIN (masked)."""
    if actor.role == Role.DRIVER:
        return is_own_customer(actor, vehicle.owner)
    return True


def get_vehicle_for(session: Session, actor: User, vin: str) -> Vehicle:
    """Return the vehicle with `vin` if the actor may see it (404 otherwise, not to leak VINs)."""
    vehicle = find_vehicle(session, vin)
    if vehicle is None or not may_see_vehicle(actor, vehicle):
        raise NotFound("no vehicle with VIN %(vin)r that you may see", field="vin", vin=vin)
    return vehicle


def may_transfer_at_once(actor: User, vehicle: Vehicle) -> bool:
    """The OEM and the staff of the dealer that sold the vehicle move it at once (the sale is theirs to record)."""
    if actor.role == Role.OEM_ADMIN:
        return True
    return (
        actor.role == Role.DEALER_STAFF and vehicle.dealer_id is not None and actor.organization_id == vehicle.dealer_id
    )


def transfer_vehicle(
    session: Session, actor: User, vehicle: Vehicle, new_owner: Customer, note: str = ""
) -> Vehicle | VehicleTransfer:
    """Move a vehicle to a new owner (the selling dealer, the OEM), or offer it to them (the owner).

    An owner's offer moves nothing until the named new owner confirms it (confirm_transfer): nobody can push
    a truck, with its history and recalls, onto a stranger, nor take it from its owner by a dealer account.
    """
    if new_owner.id == vehicle.owner_id:
        raise Conflict("the vehicle already belongs to this customer", field="to_customer")
    if may_transfer_at_once(actor, vehicle):
        record_activity(session, actor, "crm.vehicle_transferred", "vehicle", vehicle.vin, to_customer=new_owner.id)
        return _move_vehicle(session, vehicle, new_owner, note)
    if not is_own_customer(actor, vehicle.owner):
        raise Forbidden("only the owner, the dealer that sold the vehicle or the OEM may transfer it")
    offer = VehicleTransfer(
        vehicle_id=vehicle.id,
        from_customer_id=vehicle.owner_id,
        to_customer_id=new_owner.id,
        requested_by_id=actor.id,
        note=note,
    )
    session.add(offer)
    session.flush()
    record_activity(session, actor, "crm.vehicle_transfer_offered", "vehicle", vehicle.vin, to_customer=new_owner.id)
    return offer


def confirm_transfer(session: Session, actor: User, transfer_id: int) -> Vehicle:
    """Let the named new owner accept an owner's offer; an offer the owner no longer can make is void."""
    offer = session.get(VehicleTransfer, transfer_id, with_for_update=True)
    if offer is None or not is_own_customer(actor, offer.to_customer):
        raise NotFound("no such transfer waiting for you", field="id")
    if offer.confirmed_at is not None:
        raise Conflict("this transfer is already confirmed", field="id")
    if offer.vehicle.owner_id != offer.from_customer_id:
        raise Conflict("the vehicle has changed owners since this transfer was offered", field="id")
    offer.confirmed_at = utcnow()
    record_activity(session, actor, "crm.vehicle_transfer_confirmed", "vehicle", offer.vehicle.vin, transfer=offer.id)
    return _move_vehicle(session, offer.vehicle, offer.to_customer, offer.note)


def list_transfers_for(session: Session, actor: User) -> list[VehicleTransfer]:
    """Return the unconfirmed transfers offered to the actor's customer record."""
    return list(
        session.scalars(
            select(VehicleTransfer)
            .join(Customer, Customer.id == VehicleTransfer.to_customer_id)
            .where(Customer.user_id == actor.id, VehicleTransfer.confirmed_at.is_(None))
            .order_by(VehicleTransfer.requested_at)
        )
    )


def _move_vehicle(session: Session, vehicle: Vehicle, new_owner: Customer, note: str) -> Vehicle:
    now = utcnow()
    current = session.scalar(
        select(VehicleOwnership).where(VehicleOwnership.vehicle_id == vehicle.id, VehicleOwnership.ended_at.is_(None))
    )
    if current is not None:
        current.ended_at = now
    session.add(VehicleOwnership(vehicle_id=vehicle.id, customer_id=new_owner.id, started_at=now, note=note))
    vehicle.owner = new_owner
    vehicle.fleet = new_owner.fleet
    session.flush()
    return vehicle


def list_ownerships(session: Session, vehicle: Vehicle) -> list[VehicleOwnership]:
    """Return a vehicle's ownership periods, oldest first."""
    return list(
        session.scalars(
            select(VehicleOwnership)
            .where(VehicleOwnership.vehicle_id == vehicle.id)
            .order_by(VehicleOwnership.started_at, VehicleOwnership.id)
        )
    )


def list_vehicles_of(session: Session, customer: Customer) -> list[Vehicle]:
    """Return the vehicles a customer owns now, by VIN."""
    return list(session.scalars(select(Vehicle).where(Vehicle.owner_id == customer.id).order_by(Vehicle.vin)))


VIN_TAIL = 6


def select_vehicles_for(actor: User, text: str | None) -> Select:
    """Return the query for vehicles the actor may list, matching a VIN, plate or owner phone when given.

    Staff list the vehicles related to their organization by VIN prefix, the VIN's last six characters, plate or
    owner phone; any other vehicle
    only by its exact VIN or plate (and see it masked). The OEM lists everything.
    """
    statement = select(Vehicle).join(Vehicle.owner).order_by(Vehicle.vin)
    if actor.role == Role.DRIVER:
        statement = statement.where(Customer.user_id == actor.id)
    elif actor.role != Role.OEM_ADMIN and not text:
        raise InvalidInput("give a VIN, plate or phone number to search for", field="q")
    if not text:
        return statement
    cleaned = text.strip().upper().replace(" ", "")
    exact = [Vehicle.vin == cleaned, Vehicle.plate == cleaned]
    conditions = [Vehicle.vin.startswith(cleaned, autoescape=True), Vehicle.plate == cleaned]
    if len(cleaned) == VIN_TAIL:
        # What a call center hears or a shop reads off the dashboard plate: the VIN's last six characters.
        conditions.append(Vehicle.vin.endswith(cleaned, autoescape=True))
    with contextlib.suppress(InvalidInput):
        conditions.append(Customer.phone == normalize_phone(text))
    if actor.role in (Role.DRIVER, Role.OEM_ADMIN):
        return statement.where(or_(*conditions))
    related = Vehicle.id.in_(related_vehicle_ids(actor.organization_id or 0))
    return statement.where(or_(and_(related, or_(*conditions)), *exact))


def vehicle_to_dict(session: Session, vehicle: Vehicle, actor: User | None, with_history: bool = False) -> dict:
    """Render a vehicle; the owner is masked as customer_to_dict decides (names too, for unrelated staff)."""
    related = actor is None or actor.role == Role.DRIVER or is_related_vehicle(session, actor, vehicle)
    body = {
        "vin": vehicle.vin,
        "model": vehicle.model,
        "engine_serial": vehicle.engine_serial,
        "plate": vehicle.plate,
        "province": vehicle.province,
        "owner": customer_to_dict(vehicle.owner, actor, related),
        "fleet": vehicle.fleet.code if vehicle.fleet else None,
        "dealer": vehicle.dealer.code if vehicle.dealer else None,
        "fleet_name": vehicle.fleet.name if vehicle.fleet else None,
        "dealer_name": vehicle.dealer.name if vehicle.dealer else None,
        "sale_date": vehicle.sale_date.isoformat() if vehicle.sale_date else None,
        "odometer_km": vehicle.odometer_km,
        "verified": vehicle.verified_at is not None,
    }
    if with_history:
        body["ownership"] = [
            {
                "customer": customer_to_dict(period.customer, actor, related)["name"],
                "started_at": period.started_at.isoformat(),
                "ended_at": period.ended_at.isoformat() if period.ended_at else None,
                "note": period.note,
            }
            for period in list_ownerships(session, vehicle)
        ]
    return body
