"""Network models: highways, shops, booking slots and bookings, roadside requests and their offers.

Reviews (a higher layer) writes `Shop.rating`, `Shop.rating_count` and `Shop.certification_tier`, and reads
bookings (status, completed_at, customer, vehicle, shop, service) and roadside offers (offered_at,
responded_at, status) to compute its KPIs; network only reads those shop columns.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crm.models import Customer, Organization, Vehicle
from app.db import Base, utcnow


class Service(StrEnum):
    """Work a shop offers."""

    MAINTENANCE = "maintenance"
    REPAIR = "repair"
    TYRES = "tyres"
    ELECTRICAL = "electrical"
    ENGINE = "engine"
    PARTS = "parts"
    TOWING = "towing"
    ROADSIDE = "roadside"


class ShopStatus(StrEnum):
    """Whether a shop takes work: only active shops are found, booked and counted in coverage."""

    ACTIVE = "active"
    SUSPENDED = "suspended"
    CLOSED = "closed"


class CertificationTier(StrEnum):
    """The certification tier reviews writes; network treats anything but `none` as certified."""

    NONE = "none"
    CERTIFIED = "certified"
    GOLD = "gold"


class Side(StrEnum):
    """Side of the road seen in the direction of increasing kilometre markers."""

    LEFT = "left"
    RIGHT = "right"


class BookingStatus(StrEnum):
    """Where a booking stands: requested -> confirmed -> checked_in -> completed, or an end state."""

    REQUESTED = "requested"
    CONFIRMED = "confirmed"
    CHECKED_IN = "checked_in"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REJECTED = "rejected"
    NO_SHOW = "no_show"
    EXPIRED = "expired"  # still `requested` at its start: nobody answered (counts as rejected)


class AssistanceStatus(StrEnum):
    """Where a roadside request stands."""

    OPEN = "open"
    ACCEPTED = "accepted"
    ESCALATED = "escalated"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


class OfferStatus(StrEnum):
    """What became of one shop's offer of a roadside job."""

    OFFERED = "offered"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    LOST = "lost"
    WITHDRAWN = "withdrawn"


class Highway(Base):
    """A national expressway route with its geometry (GeoJSON text) and length on the ground."""

    __tablename__ = "highways"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(12), unique=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    # A GeoJSON LineString or MultiLineString in WGS84 [lon, lat]: portable, and exactly what the API returns.
    geometry: Mapped[str] = mapped_column(Text)
    length_km: Mapped[float]
    published_length_km: Mapped[float | None]
    source: Mapped[str] = mapped_column(String(200), default="")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Shop(Base):
    """A service shop: one organization of kind `shop`, with what it offers, when, and where on which route."""

    __tablename__ = "shops"
    __table_args__ = (
        CheckConstraint("bays >= 1", name="bays_positive"),
        CheckConstraint("slot_minutes >= 5", name="slot_minutes_positive"),
        Index("ix_shops_highway_id_km_marker", "highway_id", "km_marker"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), unique=True)
    # The organization's code, copied so that search results and URLs need no join.
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    lat: Mapped[float]
    lon: Mapped[float]
    address: Mapped[str] = mapped_column(String(300), default="")
    province: Mapped[str | None] = mapped_column(String(40), index=True)
    city: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str] = mapped_column(String(30), default="")
    # Sorted list of Service values.
    services: Mapped[list[str]] = mapped_column(JSON, default=list)
    bays: Mapped[int] = mapped_column(Integer, default=2)
    slot_minutes: Mapped[int] = mapped_column(Integer, default=60)
    open_24h: Mapped[bool] = mapped_column(default=False)
    # {"mon": [["08:00", "18:00"]], ..., "sun": []} in the shop's local time (TIMEZONE); ignored when open_24h.
    opening_hours: Mapped[dict] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(20), default=ShopStatus.ACTIVE, index=True)
    # Written by reviews: the shrunk mean rating (1-5) and how many reviews it rests on.
    rating: Mapped[Decimal | None] = mapped_column(Numeric(3, 2))
    rating_count: Mapped[int] = mapped_column(Integer, default=0)
    # Written by reviews: a CertificationTier value (reviews may add states; anything but none counts).
    certification_tier: Mapped[str] = mapped_column(String(20), default=CertificationTier.NONE, index=True)
    # Linear reference on the nearest route within the snap distance (NULL when off the network).
    highway_id: Mapped[int | None] = mapped_column(ForeignKey("highways.id", ondelete="SET NULL"))
    km_marker: Mapped[float | None]
    side: Mapped[str | None] = mapped_column(String(10))
    offset_km: Mapped[float | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    organization: Mapped[Organization] = relationship()
    highway: Mapped[Highway | None] = relationship()


class NetworkVersion(Base):
    """A counter bumped in the same transaction as every shop change, so each worker knows when to rebuild."""

    __tablename__ = "network_versions"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    value: Mapped[int] = mapped_column(Integer, default=0)


class BookingSlot(Base):
    """How many bays of one shop's slot are taken; the one row a conditional UPDATE guards against overselling."""

    __tablename__ = "booking_slots"
    __table_args__ = (
        UniqueConstraint("shop_id", "start", name="uq_booking_slots_shop_id_start"),
        CheckConstraint("booked >= 0", name="booked_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    start: Mapped[datetime]
    booked: Mapped[int] = mapped_column(Integer, default=0)


class Booking(Base):
    """A driver's booking of one bay at a shop for one slot, for one vehicle and service."""

    __tablename__ = "bookings"
    __table_args__ = (Index("ix_bookings_shop_id_start", "shop_id", "start"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), index=True)
    booked_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    service: Mapped[str] = mapped_column(String(20))
    start: Mapped[datetime]
    end: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default=BookingStatus.REQUESTED, index=True)
    note: Mapped[str] = mapped_column(String(500), default="")
    # Why a booking was rejected or cancelled, in the words of whoever did it.
    reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    confirmed_at: Mapped[datetime | None]
    checked_in_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None] = mapped_column(index=True)
    # When it reached cancelled, rejected or no_show.
    closed_at: Mapped[datetime | None]

    shop: Mapped[Shop] = relationship()
    customer: Mapped[Customer] = relationship()
    vehicle: Mapped[Vehicle] = relationship()


class AssistanceRequest(Base):
    """A driver's call for roadside help, offered to nearby shops in widening rounds until one accepts."""

    __tablename__ = "assistance_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), index=True)
    lat: Mapped[float]
    lon: Mapped[float]
    description: Mapped[str] = mapped_column(String(1000))
    # Photo references (URLs or upload ids) the driver attached.
    photos: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), default=AssistanceStatus.OPEN, index=True)
    # Round 0 offers within the first radius; each timeout moves to the next radius, then to the OEM.
    round: Mapped[int] = mapped_column(Integer, default=0)
    radius_km: Mapped[float]
    round_started_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted_shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"), index=True)
    accepted_at: Mapped[datetime | None]
    eta_minutes: Mapped[int | None]
    escalated_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # The OEM user who gave the job to a shop by hand (after calling it), when no offered shop took it.
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    customer: Mapped[Customer] = relationship()
    vehicle: Mapped[Vehicle] = relationship()
    accepted_shop: Mapped[Shop | None] = relationship()
    offers: Mapped[list[AssistanceOffer]] = relationship(
        back_populates="request", order_by="AssistanceOffer.distance_km"
    )


class AssistanceOffer(Base):
    """One shop's offer of a roadside job, with when it was offered and when the shop answered."""

    __tablename__ = "assistance_offers"
    __table_args__ = (UniqueConstraint("request_id", "shop_id", name="uq_assistance_offers_request_id_shop_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("assistance_requests.id", ondelete="CASCADE"))
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    round: Mapped[int] = mapped_column(Integer, default=0)
    distance_km: Mapped[float]
    status: Mapped[str] = mapped_column(String(20), default=OfferStatus.OFFERED, index=True)
    offered_at: Mapped[datetime] = mapped_column(default=utcnow)
    responded_at: Mapped[datetime | None]

    request: Mapped[AssistanceRequest] = relationship(back_populates="offers")
    shop: Mapped[Shop] = relationship()


class CoverageRollup(Base):
    """The OEM dashboard's coverage figure, kept by the worker (network.refresh_coverage) so a page only reads it."""

    __tablename__ = "coverage_rollups"
    __table_args__ = (UniqueConstraint("radius_km", name="uq_coverage_rollups_radius_km"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    radius_km: Mapped[Decimal] = mapped_column(Numeric(7, 2))
    percent: Mapped[Decimal] = mapped_column(Numeric(6, 2))
    covered_km: Mapped[Decimal] = mapped_column(Numeric(10, 1))
    total_km: Mapped[Decimal] = mapped_column(Numeric(10, 1))
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
