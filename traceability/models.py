"""Traceability models: part types, batches, serialized parts, custody events, scans, alerts, recalls.

Higher layers (reviews) read `Installation` (installs per installing organization) and `Alert`
(alerts linked to an organization); both carry plain organization ids so they stay queryable without
this package knowing about reviews.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, Integer, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crm.models import Customer, Organization, Vehicle
from app.db import Base, utcnow

# Parts, events and scans grow into the hundreds of millions: 64-bit keys on PostgreSQL. SQLite only
# auto-increments a column declared exactly INTEGER, hence the variant.
BigId = BigInteger().with_variant(Integer(), "sqlite")
Money = Numeric(12, 2)


class PartState(StrEnum):
    """Where a serialized part is in its life (DESIGN.md section 5)."""

    PRODUCED = "produced"
    IN_TRANSIT = "in_transit"
    IN_STOCK = "in_stock"
    SOLD = "sold"
    INSTALLED = "installed"
    REMOVED = "removed"
    DESTROYED = "destroyed"


class EventType(StrEnum):
    """What a custody event does to its parts."""

    COMMISSION = "commission"
    SHIP = "ship"
    RECEIVE = "receive"
    SELL = "sell"
    INSTALL = "install"
    REMOVE = "remove"
    DESTROY = "destroy"
    INSPECT = "inspect"


class Verdict(StrEnum):
    """What a scan says about a code (DESIGN.md section 6)."""

    GENUINE = "genuine"
    INSTALLED = "installed"
    SUSPECT = "suspect"
    RECALLED = "recalled"
    VOID = "void"
    COUNTERFEIT = "counterfeit"


class AlertStatus(StrEnum):
    """Where the OEM is with an alert."""

    OPEN = "open"
    INVESTIGATING = "investigating"
    CLOSED = "closed"


class PartType(Base):
    """A catalogue item: one OEM part number with its GTIN, names, guide price and warranty."""

    __tablename__ = "part_types"

    id: Mapped[int] = mapped_column(primary_key=True)
    part_number: Mapped[str] = mapped_column(String(40), unique=True)
    gtin: Mapped[str] = mapped_column(String(14), unique=True)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(40), index=True)
    guide_price: Mapped[Decimal] = mapped_column(Money)
    warranty_months: Mapped[int]
    weight_kg: Mapped[Decimal | None] = mapped_column(Numeric(10, 3))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Batch(Base):
    """A production batch (GS1 lot): where, when and how a run of parts was made and checked."""

    __tablename__ = "batches"

    id: Mapped[int] = mapped_column(primary_key=True)
    lot: Mapped[str] = mapped_column(String(20), unique=True)
    part_type_id: Mapped[int] = mapped_column(ForeignKey("part_types.id"), index=True)
    factory_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    production_line: Mapped[str] = mapped_column(String(40))
    production_date: Mapped[date] = mapped_column(index=True)
    qc_result: Mapped[str] = mapped_column(String(20))
    qc_inspector: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int]
    # The commissioning event's occurred_at (never changes): the public scan page finds that event in its
    # month's partition instead of in every month's since production (traceability/custody_history.py).
    commissioned_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    part_type: Mapped[PartType] = relationship()
    factory: Mapped[Organization] = relationship()


class Recall(Base):
    """An OEM recall with its notice and the rule that chose the affected parts."""

    __tablename__ = "recalls"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(20), unique=True)
    scope: Mapped[str] = mapped_column(String(20))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"))
    part_type_id: Mapped[int | None] = mapped_column(ForeignKey("part_types.id"))
    produced_from: Mapped[date | None]
    produced_to: Mapped[date | None]
    notice_zh: Mapped[str] = mapped_column(Text)
    notice_en: Mapped[str] = mapped_column(Text)
    part_count: Mapped[int] = mapped_column(default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    batch: Mapped[Batch | None] = relationship()
    part_type: Mapped[PartType | None] = relationship()


class Part(Base):
    """One serialized part: its identity, signed tag, hashed activation code and current custody state."""

    __tablename__ = "parts"
    __table_args__ = (
        # Serial first: a scan of an unknown code asks whether its serial exists under any GTIN (gtin_mismatch or
        # unknown_serial), and that question must be an index lookup too; (gtin, serial) lookups use it as well.
        UniqueConstraint("serial", "gtin", name="uq_parts_serial_gtin"),
        Index("ix_parts_holder_state", "holder_id", "state"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    part_type_id: Mapped[int] = mapped_column(ForeignKey("part_types.id"), index=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("batches.id"), index=True)
    # Copied from the part type so a scan finds the part with one index lookup.
    gtin: Mapped[str] = mapped_column(String(14))
    serial: Mapped[str] = mapped_column(String(20))
    # The tag printed on the label; kept so labels can be re-printed identically after key rotation.
    tag: Mapped[str] = mapped_column(String(17))
    # Keyed hash (KeyRing tag) of the activation code; the code itself is shown once and never stored.
    activation_hash: Mapped[str] = mapped_column(String(17))
    activated_at: Mapped[datetime | None]
    state: Mapped[str] = mapped_column(String(20), default=PartState.PRODUCED)
    holder_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    # While in transit: the organization the part was shipped to (the only one that may receive it).
    destination_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"), index=True)
    recall_id: Mapped[int | None] = mapped_column(ForeignKey("recalls.id"), index=True)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Clone-detection state, kept here so that verifying a scan is one indexed read and one UPDATE
    # (traceability/verification.py). Written by scans: how many were stored, the last located one (its
    # number, position and time), and the most recently seen distinct cities as [city, scan number] pairs.
    scan_count: Mapped[int] = mapped_column(default=0, server_default="0")
    last_scan_number: Mapped[int | None]
    last_scan_lat: Mapped[float | None]
    last_scan_lon: Mapped[float | None]
    last_scan_at: Mapped[datetime | None]
    scan_cities: Mapped[list | None] = mapped_column(JSON)
    # Written by custody events: [lat, lon] of every organization its events named (the factory is implied),
    # and the latest sale; by alerts: one bit per open clone-signal cause (alerts.SIGNAL_BITS).
    chain_places: Mapped[list | None] = mapped_column(JSON)
    sold_at: Mapped[datetime | None]
    sold_by_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    alert_signals: Mapped[int] = mapped_column(default=0, server_default="0")

    part_type: Mapped[PartType] = relationship()
    batch: Mapped[Batch] = relationship()
    holder: Mapped[Organization | None] = relationship(foreign_keys=[holder_id])
    destination: Mapped[Organization | None] = relationship(foreign_keys=[destination_id])
    vehicle: Mapped[Vehicle | None] = relationship()
    recall: Mapped[Recall | None] = relationship()


class RecalledPart(Base):
    """Membership of a part in a recall (a part may be in several)."""

    __tablename__ = "recalled_parts"

    recall_id: Mapped[int] = mapped_column(ForeignKey("recalls.id", ondelete="CASCADE"), primary_key=True)
    part_id: Mapped[int] = mapped_column(BigId, ForeignKey("parts.id"), primary_key=True, index=True)


class CustodyEvent(Base):
    """One append-only custody event in its organization's keyed chain (EPCIS-shaped: what, when, where, why, who)."""

    __tablename__ = "custody_events"
    # Partitioned by month of `occurred_at` on PostgreSQL (docs/scale.md, "Partitions"), whose unique keys must
    # then contain the month: the chain head's row lock keeps (organization, sequence) unique instead.
    __table_args__ = (Index("ix_custody_events_organization_sequence", "organization_id", "sequence"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # Position in the acting organization's chain, gap-free from 1; `previous_hash` is the MAC of the event
    # before it in that chain (traceability/chain.py).
    sequence: Mapped[int] = mapped_column(BigInteger)
    event_type: Mapped[str] = mapped_column(String(20))
    business_step: Mapped[str] = mapped_column(String(40))
    disposition: Mapped[str] = mapped_column(String(40))
    occurred_at: Mapped[datetime] = mapped_column(index=True)
    # The offset the event was reported in, in minutes east of UTC (EPCIS eventTimeZoneOffset).
    occurred_offset_minutes: Mapped[int] = mapped_column(default=0)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    # Indexed for the EPCIS export of an organization: the events it did or that were shipped to it.
    destination_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    buyer_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("batches.id"), index=True)
    price: Mapped[Decimal | None] = mapped_column(Money)
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    part_count: Mapped[int]
    # SHA-256 over the sorted `gtin|serial` lines of the event's parts.
    parts_digest: Mapped[str] = mapped_column(String(64))
    previous_hash: Mapped[str] = mapped_column(String(64))
    # HMAC-SHA256 under the key ring's key `key_id` (NULL: an event from before keyed chains, to be resealed).
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(1))

    organization: Mapped[Organization] = relationship(foreign_keys=[organization_id])
    destination: Mapped[Organization | None] = relationship(foreign_keys=[destination_id])
    vehicle: Mapped[Vehicle | None] = relationship()
    buyer_customer: Mapped[Customer | None] = relationship()


class CustodyEventPart(Base):
    """A part named by a custody event (commissioning events name their batch instead)."""

    __tablename__ = "custody_event_parts"

    # No foreign key: a key into a partitioned table must contain its month (docs/scale.md, "Partitions"). The
    # row is written in the transaction that appends its event, and events are never deleted.
    event_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    part_id: Mapped[int] = mapped_column(BigId, ForeignKey("parts.id"), primary_key=True, index=True)
    # The event's own occurred_at (never changes): a part's events are then found in their month's partition
    # instead of in every month's (traceability/custody_history.py).
    occurred_at: Mapped[datetime]


class ChainHead(Base):
    """The newest event of one organization's chain; its row lock serializes that organization's appends."""

    __tablename__ = "custody_chain_heads"

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    sequence: Mapped[int] = mapped_column(BigInteger, default=0)
    hash: Mapped[str] = mapped_column(String(64))


class Installation(Base):
    """A part fitted to a vehicle by an organization (a shop or dealer); `removed_at` closes it."""

    __tablename__ = "installations"

    id: Mapped[int] = mapped_column(primary_key=True)
    part_id: Mapped[int] = mapped_column(BigId, ForeignKey("parts.id"), index=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    event_id: Mapped[int] = mapped_column(BigId)  # the custody event (no foreign key: see CustodyEventPart)
    installed_at: Mapped[datetime] = mapped_column(index=True)
    removed_at: Mapped[datetime | None]

    part: Mapped[Part] = relationship()
    vehicle: Mapped[Vehicle] = relationship()
    organization: Mapped[Organization] = relationship()


class Sale(Base):
    """A recorded sale of a part, with its price: the data behind price transparency."""

    __tablename__ = "sales"
    __table_args__ = (Index("ix_sales_part_type_sold_at", "part_type_id", "sold_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    part_id: Mapped[int] = mapped_column(BigId, ForeignKey("parts.id"), index=True)
    part_type_id: Mapped[int] = mapped_column(ForeignKey("part_types.id"))
    seller_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    buyer_organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    buyer_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    price: Mapped[Decimal | None] = mapped_column(Money)
    event_id: Mapped[int] = mapped_column(BigId)  # the custody event (no foreign key: see CustodyEventPart)
    sold_at: Mapped[datetime]

    seller: Mapped[Organization] = relationship(foreign_keys=[seller_id])


class SalePriceRange(Base):
    """The kept 10th-90th percentile of a part type's recent sale prices (refreshed by a job), so that a scan
    page reads one row instead of the prices of thousands of sales."""

    __tablename__ = "sale_price_ranges"

    part_type_id: Mapped[int] = mapped_column(ForeignKey("part_types.id"), primary_key=True)
    p10: Mapped[Decimal] = mapped_column(Money)
    p90: Mapped[Decimal] = mapped_column(Money)
    sales: Mapped[int]
    refreshed_at: Mapped[datetime] = mapped_column(default=utcnow)


class Scan(Base):
    """One scan of a code, stored with its verdict and a location coarsened to about 1 km (further, or dropped,
    after SCAN_LOCATION_MONTHS: traceability/partitions.py)."""

    # Partitioned by month of `scanned_at` on PostgreSQL; the primary key there is (id, scanned_at).
    __tablename__ = "scans"
    __table_args__ = (
        Index("ix_scans_part_scanned_at", "part_id", "scanned_at"),
        Index("ix_scans_scanned_at", "scanned_at"),
        # The scans behind an unknown-code alert (the OEM's alert page): only codes no part has, so the index
        # holds the counterfeit scans alone and costs a genuine scan's insert nothing.
        Index(
            "ix_scans_unknown_code",
            "gtin",
            "serial",
            "scanned_at",
            postgresql_where=text("part_id IS NULL"),
            sqlite_where=text("part_id IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    part_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("parts.id"))
    gtin: Mapped[str | None] = mapped_column(String(14))
    serial: Mapped[str | None] = mapped_column(String(20))
    verdict: Mapped[str] = mapped_column(String(20))
    reasons: Mapped[list] = mapped_column(JSON, default=list)
    intent: Mapped[str | None] = mapped_column(String(20))
    lat: Mapped[float | None]
    lon: Mapped[float | None]
    province: Mapped[str | None] = mapped_column(String(40))
    city: Mapped[str | None] = mapped_column(String(100))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    scanned_at: Mapped[datetime] = mapped_column(default=utcnow)


class Alert(Base):
    """Something the OEM should look at, once per part and cause (`dedupe_key`), counted on repeats."""

    __tablename__ = "alerts"
    # The OEM's alert list filters by status or cause and shows the most recent first.
    __table_args__ = (
        Index("ix_alerts_status_last_seen_at", "status", "last_seen_at"),
        Index("ix_alerts_cause_last_seen_at", "cause", "last_seen_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dedupe_key: Mapped[str] = mapped_column(String(120), unique=True)
    cause: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(20), default=AlertStatus.OPEN)
    part_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("parts.id"), index=True)
    gtin: Mapped[str | None] = mapped_column(String(14))
    serial: Mapped[str | None] = mapped_column(String(20))
    # The organization the alert concerns (the seller or installer named in a report, the holder, ...).
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    occurrences: Mapped[int] = mapped_column(default=1)
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    note: Mapped[str] = mapped_column(String(500), default="")
    # How often the alert came back after the OEM closed it, and when it last did.
    reopened: Mapped[int] = mapped_column(default=0, server_default="0")
    reopened_at: Mapped[datetime | None]

    part: Mapped[Part | None] = relationship()
    organization: Mapped[Organization | None] = relationship()
    reports: Mapped[list[ProblemReport]] = relationship(
        order_by=lambda: (ProblemReport.created_at, ProblemReport.id), viewonly=True
    )


class ProblemReport(Base):
    """A driver's "report a problem" submission from a scan page; it raises or bumps an alert."""

    __tablename__ = "problem_reports"

    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    part_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("parts.id"))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    problem: Mapped[str] = mapped_column(String(40))
    message: Mapped[str] = mapped_column(String(1000), default="")
    # Where the driver was, coarsened like a scan's position (None when the page had no position).
    province: Mapped[str | None] = mapped_column(String(40))
    city: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
