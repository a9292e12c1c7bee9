"""CRM records: organizations, customers (drivers and fleets), vehicles and their ownership history, activity log."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, Numeric, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utcnow
from app.security import User


class OrganizationKind(StrEnum):
    """What an organization does in the aftermarket."""

    OEM = "oem"
    FACTORY = "factory"
    WAREHOUSE = "warehouse"
    DEALER = "dealer"
    SHOP = "shop"
    FLEET = "fleet"


class CustomerKind(StrEnum):
    """Whether a customer is one driver or a fleet operator."""

    DRIVER = "driver"
    FLEET = "fleet"


class Organization(Base):
    """A company in the network: the OEM, a factory, warehouse, dealer, service shop or fleet."""

    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    province: Mapped[str | None] = mapped_column(String(40), index=True)
    city: Mapped[str | None] = mapped_column(String(100))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    # Written by reviews for shops (the same values as network's Shop row), so that lower layers such as
    # traceability's scan page can show a seller's or installer's standing without importing reviews.
    rating: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    rating_count: Mapped[int] = mapped_column(default=0)
    certification_tier: Mapped[str] = mapped_column(String(20), default="none")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Customer(Base):
    """A driver or fleet that owns or runs vehicles."""

    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    phone: Mapped[str] = mapped_column(String(20), unique=True)
    fleet_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    fleet: Mapped[Organization | None] = relationship()
    user: Mapped[User | None] = relationship()


class Vehicle(Base):
    """A truck identified by its VIN."""

    __tablename__ = "vehicles"

    id: Mapped[int] = mapped_column(primary_key=True)
    vin: Mapped[str] = mapped_column(String(17), unique=True)
    model: Mapped[str] = mapped_column(String(100))
    engine_serial: Mapped[str | None] = mapped_column(String(40))
    plate: Mapped[str | None] = mapped_column(String(12), index=True)
    # Where the truck is registered: from the plate when it has one, else given.
    province: Mapped[str | None] = mapped_column(String(40), index=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    fleet_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    dealer_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    sale_date: Mapped[date | None]
    odometer_km: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # When a dealer's sale or an OEM check confirmed the record; a driver's own registration stays unverified and
    # never blocks the real buyer's dealer from recording the sale (issue 10 row 7).
    verified_at: Mapped[datetime | None]

    owner: Mapped[Customer] = relationship()
    fleet: Mapped[Organization | None] = relationship(foreign_keys=[fleet_id])
    dealer: Mapped[Organization | None] = relationship(foreign_keys=[dealer_id])


class VehicleOwnership(Base):
    """One period during which a customer owned a vehicle; transfers close one and open the next."""

    __tablename__ = "vehicle_ownerships"

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(String(500), default="")

    customer: Mapped[Customer] = relationship()


class VehicleTransfer(Base):
    """An owner's offer to hand a vehicle to a named new owner; it moves the vehicle when that owner confirms."""

    __tablename__ = "vehicle_transfers"

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id", ondelete="CASCADE"), index=True)
    from_customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    to_customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    requested_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(String(500), default="")
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]

    vehicle: Mapped[Vehicle] = relationship()
    to_customer: Mapped[Customer] = relationship(foreign_keys=[to_customer_id])


class ActivityEntry(Base):
    """One write a person may later ask about: who did what to which record, when, with which details.

    Append-only: rows are never updated or deleted (database triggers refuse it on both databases). Details
    name records by id and code, never a person's phone or name, so the log survives an erasure request.
    """

    __tablename__ = "activity_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    actor_role: Mapped[str] = mapped_column(String(20), default="system")
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    action: Mapped[str] = mapped_column(String(60), index=True)
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(60))
    details: Mapped[dict] = mapped_column(JSON, default=dict)

    __table_args__ = (Index("ix_activity_log_subject", "subject_type", "subject_id"),)
