"""Knowledge models: fault entries, model profiles, articles and their links, vehicle faults, and recorded fixes.

Service and community (higher layers) link their own records to these; nothing here names them.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crm.models import Vehicle
from app.db import Base, utcnow
from network.models import Booking, Shop
from traceability.models import PartType


def trigram_index(table: str) -> Index:
    """Return a pg_trgm GIN index on `table.search_text`: substring search (LIKE '%...%') uses it on PostgreSQL.

    SQLite has no such index type and scans instead (the knowledge base is small); there the index is declared
    with `WHERE 0`, so it stays empty and costs nothing, and models and migrations still agree on both databases.
    """
    return Index(
        f"ix_{table}_search_text_trgm",
        "search_text",
        postgresql_using="gin",
        postgresql_ops={"search_text": "gin_trgm_ops"},
        sqlite_where=text("0"),
    )


class Severity(StrEnum):
    """What a fault means for the trip, worst first; the driver's page shows it as a coloured verdict."""

    STOP = "stop"
    SERVICE_SOON = "service_soon"
    MONITOR = "monitor"
    INFO = "info"


class MayContinue(StrEnum):
    """Whether the truck may go on: yes, no, or limited (the engine derates: less power, lower speed)."""

    YES = "yes"
    NO = "no"
    LIMITED = "limited"


class EntrySource(StrEnum):
    """Where an entry's words come from: written by Milepost (shipped), or imported from a licensed table."""

    MILEPOST = "milepost"
    OEM_IMPORT = "oem_import"
    DA_IMPORT = "da_import"


class FaultSource(StrEnum):
    """Who reported a vehicle's fault."""

    DRIVER = "driver"
    SHOP = "shop"
    TELEMATICS = "telematics"


class FixKind(StrEnum):
    """What fixed a fault: a part replaced, or work without a part."""

    PART_REPLACED = "part_replaced"
    WIRING = "wiring"
    CLEANING = "cleaning"
    SOFTWARE = "software"
    ADJUSTMENT = "adjustment"
    REFILL = "refill"
    NO_FAULT_FOUND = "no_fault_found"


class ArticleStatus(StrEnum):
    """Whether drivers can read an article."""

    DRAFT = "draft"
    PUBLISHED = "published"


class LinkKind(StrEnum):
    """What an article is linked to."""

    CODE = "code"
    PART_CATEGORY = "part_category"
    MODEL = "model"


class FaultEntry(Base):
    """What one fault code means for a driver, for the trucks it applies to (NULL columns apply to all)."""

    __tablename__ = "fault_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    # scheme|code|fmi|source address|engine family|model|emission stage, with "*" for "any": one unique
    # column, because NULLs in a composite unique constraint never collide on SQLite (nor before PG 15).
    key: Mapped[str] = mapped_column(String(250), unique=True)
    scheme: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(20))
    fmi: Mapped[int | None]
    source_address: Mapped[int | None]
    engine_family: Mapped[str | None] = mapped_column(String(40))
    model: Mapped[str | None] = mapped_column(String(100))
    emission_stage: Mapped[str | None] = mapped_column(String(20))
    # {"zh": ..., "en": ...}
    title: Mapped[dict] = mapped_column(JSON)
    driver_text: Mapped[dict] = mapped_column(JSON)
    severity: Mapped[str] = mapped_column(String(20))
    may_continue: Mapped[str] = mapped_column(String(10))
    # A network Service value (engine, electrical, repair, ...): what the shop must offer to fix it.
    service: Mapped[str | None] = mapped_column(String(20))
    # Traceability part-type categories (sensors, filters, turbocharging, ...) a fix may need.
    part_categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Folded title, text and symptom words (knowledge.search.fold), searched by substring.
    search_text: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(20), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (Index("ix_fault_entries_scheme_code", "scheme", "code"), trigram_index("fault_entries"))


class ModelProfile(Base):
    """The engine family and emission stage of a vehicle model, so that lookups pick the entries that fit."""

    __tablename__ = "model_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    model: Mapped[str] = mapped_column(String(100), unique=True)
    engine_family: Mapped[str | None] = mapped_column(String(40))
    emission_stage: Mapped[str | None] = mapped_column(String(20))


class Article(Base):
    """A Markdown article (zh and en) written by the OEM, linked to codes, part categories and models."""

    __tablename__ = "articles"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(100), unique=True)
    title: Mapped[dict] = mapped_column(JSON)
    body: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default=ArticleStatus.DRAFT, index=True)
    search_text: Mapped[str] = mapped_column(Text, default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    __table_args__ = (trigram_index("articles"),)

    links: Mapped[list[ArticleLink]] = relationship(
        back_populates="article", cascade="all, delete-orphan", order_by="ArticleLink.id"
    )


class ArticleLink(Base):
    """One link of an article: a code (`100/1`, `100`, `P20EE`), a part category or a vehicle model."""

    __tablename__ = "article_links"
    __table_args__ = (
        UniqueConstraint("article_id", "kind", "value", name="uq_article_links_article_id_kind_value"),
        Index("ix_article_links_kind_value", "kind", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(100))

    article: Mapped[Article] = relationship(back_populates="links")


class VehicleFault(Base):
    """One fault code on one vehicle: reported again and again, it stays one row that turns active or inactive."""

    __tablename__ = "vehicle_faults"
    __table_args__ = (
        UniqueConstraint("vehicle_id", "fault_key", name="uq_vehicle_faults_vehicle_id_fault_key"),
        Index("ix_vehicle_faults_scheme_code_fmi", "scheme", "code", "fmi"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id", ondelete="CASCADE"))
    # scheme|code|fmi|source address ("*" for none): what deduplicates reports of the same fault.
    fault_key: Mapped[str] = mapped_column(String(80))
    scheme: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(20))
    fmi: Mapped[int | None]
    source_address: Mapped[int | None]
    # The ECU's own occurrence count, as last reported (J1939 OC).
    occurrence_count: Mapped[int | None]
    # How many reports Milepost received.
    reports: Mapped[int] = mapped_column(Integer, default=1)
    lamps: Mapped[dict | None] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(default=True, index=True)
    first_source: Mapped[str] = mapped_column(String(20))
    last_source: Mapped[str] = mapped_column(String(20))
    reported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The shop that entered it at check-in, and the booking it came with.
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    cleared_at: Mapped[datetime | None]

    vehicle: Mapped[Vehicle] = relationship()
    shop: Mapped[Shop | None] = relationship()
    booking: Mapped[Booking | None] = relationship()


class FaultFix(Base):
    """What fixed one vehicle fault, recorded when the booking or service case that dealt with it closed."""

    __tablename__ = "fault_fixes"
    __table_args__ = (
        UniqueConstraint("vehicle_fault_id", "case_ref", name="uq_fault_fixes_vehicle_fault_id_case_ref"),
        Index("ix_fault_fixes_scheme_code_fmi", "scheme", "code", "fmi"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_fault_id: Mapped[int] = mapped_column(ForeignKey("vehicle_faults.id", ondelete="CASCADE"))
    # Copied from the fault, so the statistics per code need no join.
    scheme: Mapped[str] = mapped_column(String(20))
    code: Mapped[str] = mapped_column(String(20))
    fmi: Mapped[int | None]
    kind: Mapped[str] = mapped_column(String(20))
    part_type_id: Mapped[int | None] = mapped_column(ForeignKey("part_types.id"))
    # What closed: "booking:12" or a higher domain's reference ("service:34"), one fix per fault and case.
    case_ref: Mapped[str] = mapped_column(String(60))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"))
    # Kept for the OEM's audit; the statistics drivers see never name shops.
    shop_id: Mapped[int | None] = mapped_column(ForeignKey("shops.id"))
    note: Mapped[str] = mapped_column(String(500), default="")
    noted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    noted_at: Mapped[datetime] = mapped_column(default=utcnow)

    vehicle_fault: Mapped[VehicleFault] = relationship()
    part_type: Mapped[PartType | None] = relationship()
