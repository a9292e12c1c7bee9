"""Which vehicles and customers an organization's staff are related to: sold, fleet, serviced, booked, custody.

Staff see the records of their own work in full; anything else only by its exact VIN or plate, masked. Higher
domains add their relations (a booking at a shop, an accepted roadside job, an installation) with
register_vehicle_relation, because this layer may not name their tables.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Select, exists, select, union
from sqlalchemy.orm import Session

from app.crm.models import Customer, Vehicle
from app.security import Role, User

# Each relation returns a query of the ids of vehicles related to the organization with the given id.
VehicleRelation = Callable[[int], Select]


def _sold_by(organization_id: int) -> Select:
    return select(Vehicle.id).where(Vehicle.dealer_id == organization_id)


def _run_by(organization_id: int) -> Select:
    return select(Vehicle.id).where(Vehicle.fleet_id == organization_id)


VEHICLE_RELATIONS: list[VehicleRelation] = [_sold_by, _run_by]


def register_vehicle_relation(relation: VehicleRelation) -> None:
    """Let a domain say which vehicles an organization is related to through its records."""
    if relation not in VEHICLE_RELATIONS:
        VEHICLE_RELATIONS.append(relation)


def related_vehicle_ids(organization_id: int) -> Select:
    """Return a query of the ids of every vehicle related to the organization."""
    return select(union(*(relation(organization_id) for relation in VEHICLE_RELATIONS)).subquery().c[0])


def sees_whole_network(actor: User | None) -> bool:
    """The OEM sees every record; everyone else sees their own and their organization's."""
    return actor is not None and actor.role == Role.OEM_ADMIN


def is_related_vehicle(session: Session, actor: User, vehicle: Vehicle) -> bool:
    """Tell whether the actor's organization has a record with this vehicle (or the actor is the OEM)."""
    if sees_whole_network(actor):
        return True
    if actor.organization_id is None:
        return False
    related = related_vehicle_ids(actor.organization_id).subquery()
    return bool(session.scalar(select(exists().where(related.c[0] == vehicle.id))))


def is_related_customer(session: Session, actor: User, customer: Customer) -> bool:
    """Tell whether the customer is in the actor's fleet or owns a vehicle related to the actor's organization."""
    if sees_whole_network(actor) or customer.user_id == actor.id:
        return True
    if actor.organization_id is None:
        return False
    if customer.fleet_id == actor.organization_id:
        return True
    owned = (
        select(Vehicle.id)
        .where(Vehicle.owner_id == customer.id, Vehicle.id.in_(related_vehicle_ids(actor.organization_id)))
        .limit(1)
    )
    return bool(session.scalar(select(exists(owned))))
