"""Vehicles: registration by VIN, ownership transfers with history, search and visibility."""

from __future__ import annotations

import contextlib
from datetime import date

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from app.crm.customers import customer_to_dict, fleet_of, is_own_customer
from app.crm.identifiers import normalize_phone, normalize_plate, normalize_vin, plate_province
from app.crm.models import Customer, OrganizationKind, Vehicle, VehicleOwnership
from app.crm.organizations import get_organization
from app.crm.regions import parse_province
from app.db import utcnow
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.security import Role, User


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
) -> Vehicle:
    """Register a vehicle and open its first ownership period."""
    vin = normalize_vin(vin)
    if session.scalar(select(Vehicle.id).where(Vehicle.vin == vin)):
        raise Conflict(f"a vehicle with VIN {vin} is registered", field="vin")
    if not model or not model.strip():
        raise InvalidInput("a model is required", field="model")
    plate = normalize_plate(plate) if plate else None
    dealer = get_organization(session, dealer_code, field="dealer") if dealer_code else None
    if dealer is not None and dealer.kind != OrganizationKind.DEALER:
        raise InvalidInput(f"{dealer.code} is not a dealer", field="dealer")
    if odometer_km is not None and odometer_km < 0:
        raise InvalidInput("odometer cannot be negative", field="odometer_km")
    if sale_date is not None and sale_date > utcnow().date():
        raise InvalidInput("sale date is in the future", field="sale_date")
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
    )
    session.add(vehicle)
    session.flush()
    session.add(VehicleOwnership(vehicle_id=vehicle.id, customer_id=owner.id, started_at=utcnow()))
    session.flush()
    return vehicle


def find_vehicle(session: Session, vin: str) -> Vehicle | None:
    """Return the vehicle with `vin` (any case), if registered."""
    return session.scalar(select(Vehicle).where(Vehicle.vin == (vin or "").strip().upper()))


def may_see_vehicle(actor: User, vehicle: Vehicle) -> bool:
    """Drivers see their own vehicles (and fleets theirs); staff look vehicles up by VIN."""
    if actor.role == Role.DRIVER:
        return is_own_customer(actor, vehicle.owner)
    return True


def get_vehicle_for(session: Session, actor: User, vin: str) -> Vehicle:
    """Return the vehicle with `vin` if the actor may see it (404 otherwise, not to leak VINs)."""
    vehicle = find_vehicle(session, vin)
    if vehicle is None or not may_see_vehicle(actor, vehicle):
        raise NotFound(f"no vehicle with VIN {vin!r} that you may see", field="vin")
    return vehicle


def transfer_vehicle(session: Session, actor: User, vehicle: Vehicle, new_owner: Customer, note: str = "") -> Vehicle:
    """Move a vehicle to a new owner, closing the current ownership period."""
    if not (actor.role in (Role.OEM_ADMIN, Role.DEALER_STAFF) or is_own_customer(actor, vehicle.owner)):
        raise Forbidden("only the owner, a dealer or the OEM may transfer a vehicle")
    if new_owner.id == vehicle.owner_id:
        raise Conflict("the vehicle already belongs to this customer", field="to_customer")
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


def select_vehicles_for(actor: User, text: str | None) -> Select:
    """Return the query for vehicles the actor may list, matching a VIN, plate or owner phone when given."""
    statement = select(Vehicle).join(Vehicle.owner).order_by(Vehicle.vin)
    if actor.role == Role.DRIVER:
        statement = statement.where(Customer.user_id == actor.id)
    elif actor.role != Role.OEM_ADMIN and not text:
        raise InvalidInput("give a VIN, plate or phone number to search for", field="q")
    if text:
        cleaned = text.strip().upper().replace(" ", "")
        conditions = [Vehicle.vin.startswith(cleaned, autoescape=True), Vehicle.plate == cleaned]
        with contextlib.suppress(InvalidInput):
            conditions.append(Customer.phone == normalize_phone(text))
        statement = statement.where(or_(*conditions))
    return statement


def vehicle_to_dict(session: Session, vehicle: Vehicle, actor: User | None, with_history: bool = False) -> dict:
    """Render a vehicle; the owner's phone is masked as customer_to_dict decides."""
    body = {
        "vin": vehicle.vin,
        "model": vehicle.model,
        "engine_serial": vehicle.engine_serial,
        "plate": vehicle.plate,
        "province": vehicle.province,
        "owner": customer_to_dict(vehicle.owner, actor),
        "fleet": vehicle.fleet.code if vehicle.fleet else None,
        "dealer": vehicle.dealer.code if vehicle.dealer else None,
        "sale_date": vehicle.sale_date.isoformat() if vehicle.sale_date else None,
        "odometer_km": vehicle.odometer_km,
    }
    if with_history:
        body["ownership"] = [
            {
                "customer": customer_to_dict(period.customer, actor)["name"],
                "started_at": period.started_at.isoformat(),
                "ended_at": period.ended_at.isoformat() if period.ended_at else None,
                "note": period.note,
            }
            for period in list_ownerships(session, vehicle)
        ]
    return body
