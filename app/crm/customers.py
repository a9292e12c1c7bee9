"""Customers (drivers and fleets): creation, driver self-registration, visibility and masking."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.activity import record_activity
from app.crm.identifiers import mask_name, mask_phone, normalize_phone
from app.crm.models import Customer, CustomerKind, Organization, OrganizationKind
from app.crm.organizations import get_organization
from app.crm.relations import is_related_customer
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.one_time_codes import CodePurpose, PhoneCodeSettings, PhoneProof, prove_phone
from app.passwords import check_password_policy
from app.security import Role, User, create_user, ensure_attempts_left, is_oem, record_attempt

REGISTRATION_WINDOW = timedelta(hours=1)


def create_customer(
    session: Session,
    *,
    kind: str,
    name: str,
    phone: str,
    fleet_code: str | None = None,
    user: User | None = None,
) -> Customer:
    """Create a customer; the phone number is validated and stored normalized."""
    if kind not in CustomerKind.__members__.values():
        raise InvalidInput(f"unknown kind %(kind)r; one of {', '.join(CustomerKind)}", field="kind", kind=kind)
    if not name or not name.strip():
        raise InvalidInput("a name is required", field="name")
    phone = normalize_phone(phone)
    if session.scalar(select(Customer.id).where(Customer.phone == phone)):
        raise Conflict("a customer with this phone number exists", field="phone")
    fleet = fleet_of(session, fleet_code)
    customer = Customer(kind=kind, name=name.strip(), phone=phone, fleet=fleet, user=user)
    session.add(customer)
    session.flush()
    return customer


def register_driver(session: Session, *, name: str, proof: PhoneProof, password: str) -> Customer:
    """Give the holder of a proven phone a driver account, linked to the customer record of that number if any."""
    phone = proof.phone
    existing = session.scalar(select(Customer).where(Customer.phone == phone))
    if existing is not None and existing.user_id is not None:
        raise Conflict("this phone number is already registered; sign in instead", field="phone")
    user = create_user(session, role=Role.DRIVER, password=password, phone=phone, display_name=name)
    if existing is not None:
        # A dealer or shop entered this driver before; the driver, who has just proven they hold the number,
        # now claims the record (its trucks, bookings and full phone number).
        existing.user = user
        session.flush()
        return existing
    return create_customer(session, kind=CustomerKind.DRIVER, name=name, phone=phone, user=user)


def sign_up_driver(
    session: Session,
    *,
    name: str,
    phone: str,
    password: str,
    code: str,
    client: str,
    rules: PhoneCodeSettings,
    per_client_hour: int,
) -> Customer:
    """Register a driver who proves the phone with the code texted to it; one address registers a few per hour."""
    client_key = f"client:{client}"
    ensure_attempts_left(session, "registration", [client_key], per_client_hour, REGISTRATION_WINDOW)
    phone = normalize_phone(phone)
    # The password is judged before the code is used up, so a refused password does not cost the code.
    check_password_policy(password, phone=phone)
    proof = prove_phone(session, phone, CodePurpose.REGISTER, code, rules)
    customer = register_driver(session, name=name, proof=proof, password=password)
    record_attempt(session, "registration", client_key)
    claimed = "existing" if customer.created_at < customer.user.created_at else "new"
    record_activity(session, customer.user, "crm.driver_registered", "customer", customer.id, record=claimed)
    return customer


def find_customer_for_user(session: Session, user: User | None) -> Customer | None:
    """Return the customer record linked to a user account, if any."""
    if user is None:
        return None
    return session.scalar(select(Customer).where(Customer.user_id == user.id))


def is_own_customer(actor: User | None, customer: Customer) -> bool:
    """Tell whether `actor` is the customer or the staff of the customer's fleet."""
    if actor is None:
        return False
    if customer.user_id == actor.id:
        return True
    return customer.fleet_id is not None and actor.organization_id == customer.fleet_id


def may_see_full_contact(actor: User | None, customer: Customer) -> bool:
    """Phone numbers are shown in full only to the customer themselves and to OEM staff."""
    return is_oem(actor) or is_own_customer(actor, customer)


def get_customer_for(session: Session, actor: User, customer_id: int) -> Customer:
    """Return a customer the actor may see: drivers only themselves, staff those related to their organization.

    A customer unrelated to the staff's organization is "not found", so ids cannot be walked to list everyone.
    """
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFound("no such customer")
    if actor.role == Role.DRIVER and not is_own_customer(actor, customer):
        raise Forbidden("drivers see only their own record")
    if actor.role != Role.DRIVER and not is_related_customer(session, actor, customer):
        raise NotFound("no such customer")
    return customer


def search_customers(session: Session, actor: User, text: str | None, limit: int = 20) -> list[Customer]:
    """Return the customers whose phone number is `text` that the actor may see (drivers: only themselves)."""
    try:
        phone = normalize_phone(text or "")
    except InvalidInput:
        return []
    statement = select(Customer).where(Customer.phone == phone).limit(limit)
    if actor.role == Role.DRIVER:
        statement = statement.where(Customer.user_id == actor.id)
    return list(session.scalars(statement))


def customer_to_dict(customer: Customer, actor: User | None, related: bool = True) -> dict:
    """Render a customer, masking the phone for anyone but the customer and OEM staff, and the name too for
    staff unrelated to the customer (found by an exact VIN, plate or phone)."""
    full = may_see_full_contact(actor, customer)
    return {
        "id": customer.id,
        "kind": customer.kind,
        "name": customer.name if related or full else mask_name(customer.name),
        "phone": customer.phone if full else mask_phone(customer.phone),
        "fleet": customer.fleet.code if customer.fleet else None,
        "has_account": customer.user_id is not None,
        "created_at": customer.created_at.isoformat(),
    }


def fleet_of(session: Session, code: str | None) -> Organization | None:
    """Return the fleet organization named by `code`, checking its kind."""
    if not code:
        return None
    fleet = get_organization(session, code, field="fleet")
    if fleet.kind != OrganizationKind.FLEET:
        raise InvalidInput("%(fleet_code)s is not a fleet", field="fleet", fleet_code=fleet.code)
    return fleet
