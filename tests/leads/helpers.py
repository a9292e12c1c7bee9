"""Builders for the leads tests: an OEM, a dealer with a territory and a sales team, touchpoints, a clock."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.config import load_settings
from app.crm.models import Customer, Organization, Vehicle
from app.crm.touchpoints import record_touchpoint
from app.security import Role, User
from leads.intake import take_in_touchpoints
from leads.models import Lead, LeadPool, TeamRole
from leads.settings import LeadsSettings, leads_settings
from leads.team import add_member, create_dealer_pool, ensure_oem_pool
from tests.factories import make_customer, make_organization, make_user, make_vehicle

SHANGHAI = ZoneInfo("Asia/Shanghai")


def local(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    """Return a Beijing wall-clock time as an aware UTC instant."""
    return datetime(year, month, day, hour, minute, tzinfo=SHANGHAI).astimezone(UTC)


def settings(**overrides: object) -> LeadsSettings:
    """Return the leads settings with the defaults (the brief's numbers) and any overrides."""
    return leads_settings(load_settings(overrides, environ={}))


@dataclass
class World:
    oem: Organization
    oem_admin: User
    dealer: Organization
    pool: LeadPool
    oem_pool: LeadPool
    manager: User
    sales: list[User]


def make_world(session: Session, salespeople: int = 2, province: str = "Henan") -> World:
    """Build the OEM, one dealer whose territory is `province`, its manager and salespeople."""
    oem = make_organization(session, kind="oem", province=None)
    admin = make_user(session, Role.OEM_ADMIN, oem)
    dealer = make_organization(session, kind="dealer", province=province)
    pool = create_dealer_pool(session, admin, dealer, [province])
    manager = make_user(session, Role.DEALER_STAFF, dealer, display_name="经理")
    add_member(session, admin, manager, TeamRole.MANAGER)
    sales = []
    for number in range(salespeople):
        user = make_user(session, Role.DEALER_STAFF, dealer, display_name=f"销售{number + 1}")
        add_member(session, manager, user)
        sales.append(user)
    return World(oem, admin, dealer, pool, ensure_oem_pool(session), manager, sales)


def touch(
    session: Session,
    customer: Customer,
    *,
    at: datetime,
    channel: str = "booking",
    vehicle: Vehicle | None = None,
    kind: str = "maintenance",
    consent_basis: str = "service",
    summary: str = "booked maintenance",
    province: str | None = "Henan",
    version: str | None = None,
) -> None:
    """Record one touchpoint of `customer`."""
    record_touchpoint(
        session,
        channel=channel,
        kind=kind,
        source_type="test",
        source_id=at.isoformat(),
        customer=customer,
        vehicle=vehicle,
        province=province,
        summary=summary,
        consent_basis=consent_basis,
        consent_text_version=version,
        occurred_at=at,
    )


def lead_from_touch(session: Session, at: datetime, rules: LeadsSettings | None = None, **options: object) -> Lead:
    """Make a customer with a truck that scores grade B or better, touch, take in; return the lead."""
    customer = make_customer(session)
    vehicle = make_vehicle(session, owner=customer, odometer_km=350_000)
    touch(session, customer, at=at, vehicle=vehicle, **options)
    take_in_touchpoints(session, rules or settings(), at)
    return session.query(Lead).filter(Lead.phone == customer.phone).one()


def pool_lead(session: Session, world: World, rules: LeadsSettings | None = None) -> Lead:
    """Return a lead waiting in the dealer's pool in sales now (moved by the manager, whatever the hour)."""
    from app.db import utcnow
    from leads.stages import move_stage

    now = utcnow()
    lead = lead_from_touch(session, now, rules)
    move_stage(session, world.manager, lead, "sales", rules or settings(), now)
    return lead
