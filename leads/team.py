"""Who works leads: sales team memberships, the pools per territory, and who may see or change which lead."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.models import Organization, OrganizationKind, Touchpoint
from app.errors import Forbidden, InvalidInput, NotFound
from app.security import Role, User, is_oem, require_role
from leads.models import Lead, LeadPool, SalesMember, TeamRole

LEAD_STAFF = (Role.DEALER_STAFF, Role.OEM_ADMIN)
OEM_POOL = "oem"


def find_member(session: Session, user_id: int) -> SalesMember | None:
    """Return a user's active sales team membership, if any."""
    member = session.scalar(select(SalesMember).where(SalesMember.user_id == user_id))
    return member if member is not None and member.is_active else None


def add_member(
    session: Session,
    actor: User,
    user: User,
    role: str = TeamRole.SALESPERSON,
    *,
    provinces: list[str] | None = None,
    channels: list[str] | None = None,
    cap: int | None = None,
) -> SalesMember:
    """Make a dealer's (or the OEM's) staff user a salesperson or manager; its managers or the OEM do this."""
    if role not in TeamRole.__members__.values():
        raise InvalidInput("role is salesperson or manager", field="role")
    if user.role not in LEAD_STAFF or user.organization_id is None:
        raise InvalidInput("only dealer or OEM staff work leads", field="user")
    require_manager_of(session, actor, user.organization_id)
    member = session.scalar(select(SalesMember).where(SalesMember.user_id == user.id))
    if member is None:
        member = SalesMember(user_id=user.id, organization_id=user.organization_id)
        session.add(member)
    member.role, member.is_active = role, True
    member.provinces, member.channels, member.cap = list(provinces or []), list(channels or []), cap
    session.flush()
    return member


def is_manager_of(session: Session, actor: User | None, organization_id: int) -> bool:
    """Tell whether the actor manages the leads of `organization_id` (its lead managers, or the OEM)."""
    if actor is None:
        return False
    if is_oem(actor):
        return True
    member = find_member(session, actor.id)
    return member is not None and member.role == TeamRole.MANAGER and member.organization_id == organization_id


def require_manager_of(session: Session, actor: User | None, organization_id: int) -> User:
    """Return the actor when they manage `organization_id`'s leads, else refuse."""
    actor = require_role(actor, *LEAD_STAFF)
    if not is_manager_of(session, actor, organization_id):
        raise Forbidden("only the lead managers of this dealer (or the OEM) may do this")
    return actor


def require_salesperson(session: Session, actor: User | None) -> SalesMember:
    """Return the actor's active membership (salespeople and managers both hold leads)."""
    actor = require_role(actor, *LEAD_STAFF)
    member = find_member(session, actor.id)
    if member is None:
        raise Forbidden("you are not on a sales team")
    return member


def may_see_lead(session: Session, actor: User | None, lead: Lead) -> bool:
    """Tell whether the actor may see this lead: its owner, staff of its pool's organization, or the OEM."""
    if actor is None:
        return False
    if is_oem(actor) or lead.owner_id == actor.id:
        return True
    member = find_member(session, actor.id)
    return member is not None and member.organization_id == lead.pool.organization_id


def get_lead_for(session: Session, actor: User | None, lead_id: int) -> Lead:
    """Return lead `lead_id` if the actor may see it (404 otherwise, so other dealers' leads stay unknown)."""
    require_role(actor, *LEAD_STAFF)
    lead = session.get(Lead, lead_id)
    if lead is None or not may_see_lead(session, actor, lead):
        raise NotFound("no such lead")
    return lead


def ensure_oem_pool(session: Session) -> LeadPool:
    """Return the OEM's pool (created with the first OEM organization's id on first use)."""
    pool = session.scalar(select(LeadPool).where(LeadPool.code == OEM_POOL))
    if pool is not None:
        return pool
    oem = session.scalar(
        select(Organization).where(Organization.kind == OrganizationKind.OEM).order_by(Organization.id)
    )
    if oem is None:
        raise NotFound("there is no OEM organization to hold the OEM's lead pool")
    pool = LeadPool(code=OEM_POOL, name=oem.name, organization_id=oem.id, provinces=[], is_oem=True)
    session.add(pool)
    session.flush()
    return pool


def create_dealer_pool(
    session: Session, actor: User, dealer: Organization, provinces: list[str] | None = None, auto_assign: bool = False
) -> LeadPool:
    """Open a dealer's public pool over its territory (its own province unless given); the OEM does this."""
    if not is_oem(actor):
        raise Forbidden("only the OEM sets dealer territories")
    if dealer.kind != OrganizationKind.DEALER:
        raise InvalidInput("territories belong to dealers", field="dealer")
    territory = list(provinces or ([dealer.province] if dealer.province else []))
    if not territory:
        raise InvalidInput("name the provinces of the territory", field="provinces")
    pool = session.scalar(select(LeadPool).where(LeadPool.code == f"dealer-{dealer.code}"))
    if pool is None:
        pool = LeadPool(code=f"dealer-{dealer.code}"[:40], name=dealer.name, organization_id=dealer.id)
        session.add(pool)
    pool.provinces, pool.auto_assign = territory, auto_assign
    session.flush()
    return pool


def pool_for_province(session: Session, province: str | None) -> LeadPool:
    """Return the public pool whose territory holds `province` (the first dealer's by id), else the OEM's."""
    if province:
        for pool in session.scalars(select(LeadPool).where(LeadPool.is_oem.is_(False)).order_by(LeadPool.id)):
            if province in (pool.provinces or []):
                return pool
    return ensure_oem_pool(session)


def pool_of_organization(session: Session, organization_id: int | None) -> LeadPool | None:
    """Return the public pool of a dealer (None when it has no territory, so no pool)."""
    if organization_id is None:
        return None
    statement = select(LeadPool).where(LeadPool.organization_id == organization_id, LeadPool.is_oem.is_(False))
    return session.scalar(statement.order_by(LeadPool.id).limit(1))


def pool_for_touchpoint(
    session: Session, touchpoint: Touchpoint, province: str | None, current: LeadPool | None = None
) -> LeadPool:
    """Return the pool a touchpoint's lead belongs in: the dealer the person asked to hear from (a referral, a
    walk-in, a campaign), else the lead's dealer pool, else the pool of the territory holding `province`."""
    return pool_of_organization(session, touchpoint.organization_id) or home_pool(session, current, province)


def home_pool(session: Session, current: LeadPool | None, province: str | None) -> LeadPool:
    """Return where a lead goes back to: its dealer's pool (territories may overlap), else its province's."""
    if current is not None and not current.is_oem:
        return current
    return pool_for_province(session, province)


def list_members(session: Session, organization_id: int, role: str | None = None) -> list[SalesMember]:
    """Return the active members of an organization's sales team."""
    statement = select(SalesMember).where(
        SalesMember.organization_id == organization_id, SalesMember.is_active.is_(True)
    )
    if role:
        statement = statement.where(SalesMember.role == role)
    return list(session.scalars(statement.order_by(SalesMember.id)))
