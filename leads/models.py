"""Leads records: sales team memberships, public pools, leads, their activities and the transition log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crm.models import Customer, Organization, Vehicle
from app.db import Base, utcnow
from app.security import User


class Stage(StrEnum):
    """Where a lead is in the funnel."""

    NEW = "new"
    QUALIFIED = "qualified"
    SALES = "sales"
    WON = "won"
    LOST = "lost"


STAGE_ORDER = (Stage.NEW, Stage.QUALIFIED, Stage.SALES, Stage.WON)
OPEN_STAGES = (Stage.NEW, Stage.QUALIFIED, Stage.SALES)


class TeamRole(StrEnum):
    """What a dealer's (or the OEM's) staff member does with leads."""

    SALESPERSON = "salesperson"
    MANAGER = "manager"


class Interest(StrEnum):
    """What a lead may buy (the programme's later phases)."""

    PARTS = "parts"
    MAINTENANCE_PLAN = "maintenance_plan"
    EXTENDED_WARRANTY = "extended_warranty"
    NEW_TRUCK = "new_truck"
    FINANCE = "finance"


class Reason(StrEnum):
    """Why a lead changed owner, pool or stage (the transition log's reasons the rules and people write)."""

    CREATED = "created"
    DISPATCHED = "dispatched"
    CLAIM = "claim"
    ASSIGNED = "assigned"
    AUTO_ASSIGNED = "auto_assigned"
    RETURNED = "returned"
    RELEASED = "released"
    FIRST_FOLLOW_UP_TIMEOUT = "first_follow_up_timeout"
    IDLE = "idle"
    REACTIVATED = "reactivated"
    WON = "won"
    LOST = "lost"
    ADVANCED = "advanced"


RECYCLE_REASONS = (Reason.FIRST_FOLLOW_UP_TIMEOUT, Reason.IDLE)


class SalesMember(Base):
    """A staff user who works leads: a salesperson (holds leads) or a manager (assigns, reads the funnel)."""

    __tablename__ = "lead_team_members"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    role: Mapped[str] = mapped_column(String(20), default=TeamRole.SALESPERSON)
    # Empty lists mean "any": auto-assignment matches a lead's province and channel against these.
    provinces: Mapped[list] = mapped_column(JSON, default=list)
    channels: Mapped[list] = mapped_column(JSON, default=list)
    cap: Mapped[int | None]
    daily_claim_limit: Mapped[int | None]
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship()
    organization: Mapped[Organization] = relationship()


class LeadPool(Base):
    """A public pool: a dealer's territory (its provinces) or the OEM's pool for everywhere no dealer covers.

    A salesperson's private pool is the set of leads they own (leads.owner_id); it needs no row of its own.
    """

    __tablename__ = "lead_pools"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    provinces: Mapped[list] = mapped_column(JSON, default=list)
    is_oem: Mapped[bool] = mapped_column(default=False)
    # Dispatch to sales assigns automatically (region, channel, capacity, random ties) instead of waiting for a claim.
    auto_assign: Mapped[bool] = mapped_column(default=False)

    organization: Mapped[Organization] = relationship()


class Lead(Base):
    """A person (by phone, then VIN) who may buy something, with the timers its pool's rules read."""

    __tablename__ = "leads"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(20), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"), index=True)
    vin: Mapped[str | None] = mapped_column(String(17), index=True)
    # First touch: never changed afterwards, so the funnel's channel and region of a cohort are stable.
    channel: Mapped[str] = mapped_column(String(30))
    province: Mapped[str | None] = mapped_column(String(40))
    city: Mapped[str | None] = mapped_column(String(100))
    interest: Mapped[str] = mapped_column(String(30), default=Interest.PARTS)
    grade: Mapped[str] = mapped_column(String(1), default="C")
    stage: Mapped[str] = mapped_column(String(20), default=Stage.NEW, index=True)
    pool_id: Mapped[int] = mapped_column(ForeignKey("lead_pools.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    assigned_at: Mapped[datetime | None]
    first_follow_up_due_at: Mapped[datetime | None] = mapped_column(index=True)
    last_follow_up_at: Mapped[datetime | None]
    recycle_at: Mapped[datetime | None] = mapped_column(index=True)
    reclaim_blocked_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reclaim_blocked_until: Mapped[datetime | None]
    dispatch_due_at: Mapped[datetime | None] = mapped_column(index=True)
    lost_reason: Mapped[str | None] = mapped_column(String(40))
    reactivated_at: Mapped[datetime | None]
    consent_basis: Mapped[str] = mapped_column(String(20), default="service")
    consent_topic: Mapped[str] = mapped_column(String(40), default="")
    marketing_opt_out_at: Mapped[datetime | None]
    last_touch_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    pool: Mapped[LeadPool] = relationship()
    customer: Mapped[Customer | None] = relationship()
    vehicle: Mapped[Vehicle | None] = relationship()
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])

    __table_args__ = (
        # One lead per phone until it is won (a lost lead is reopened by a new touchpoint, not duplicated).
        Index(
            "uq_leads_open_phone",
            "phone",
            unique=True,
            postgresql_where=text("stage <> 'won'"),
            sqlite_where=text("stage <> 'won'"),
        ),
    )


class LeadActivity(Base):
    """Something done or seen on a lead: a call, message or visit (follow-ups), a note, a touchpoint."""

    __tablename__ = "lead_activities"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(40), default="")
    topic: Mapped[str] = mapped_column(String(40), default="")
    body: Mapped[str] = mapped_column(String(1000), default="")
    touchpoint_id: Mapped[int | None] = mapped_column(ForeignKey("crm_touchpoints.id", ondelete="SET NULL"))
    at: Mapped[datetime] = mapped_column(default=utcnow)


class LeadTransition(Base):
    """One change of a lead's stage, pool or owner; append-only, the funnel's only source."""

    __tablename__ = "lead_transitions"

    id: Mapped[int] = mapped_column(primary_key=True)
    lead_id: Mapped[int] = mapped_column(ForeignKey("leads.id", ondelete="CASCADE"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(20))
    to_stage: Mapped[str] = mapped_column(String(20))
    from_pool_id: Mapped[int | None] = mapped_column(ForeignKey("lead_pools.id"))
    to_pool_id: Mapped[int | None] = mapped_column(ForeignKey("lead_pools.id"))
    from_owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    to_owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(String(40))
    note: Mapped[str] = mapped_column(String(200), default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)

    __table_args__ = (Index("ix_lead_transitions_owner_at", "to_owner_id", "reason", "at"),)


class LeadCampaign(Base):
    """A campaign a dealer (or the OEM) runs: its public page /c/<code> takes a visitor's phone with their opt-in."""

    __tablename__ = "lead_campaigns"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    title_zh: Mapped[str] = mapped_column(String(120))
    title_en: Mapped[str] = mapped_column(String(120))
    interest: Mapped[str] = mapped_column(String(30), default=Interest.EXTENDED_WARRANTY)
    # The version of the consent text shown on the page: the proof kept with each landing's touchpoint.
    consent_text_version: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(default=True)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organization: Mapped[Organization] = relationship()
