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
    # When the person closed the account or the OEM erased them (app.crm.personal_data): the row stays as the
    # anonymous anchor of the shop's bookings and the truck's history, with no name or phone left in it.
    erased_at: Mapped[datetime | None]

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


class ConsentBasis(StrEnum):
    """Why Milepost may follow a person up: they asked for a service, opted in to marketing, or neither."""

    SERVICE = "service"
    MARKETING = "marketing"
    NONE = "none"


class Touchpoint(Base):
    """A moment a person showed intent (a booking, a roadside call, a scan of a part someone sells them, ...).

    Every domain writes these through app.crm.touchpoints; the leads domain above reads them. The row is also
    the consent proof: the basis and the version of the consent text the person saw are kept with it.
    """

    __tablename__ = "crm_touchpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str | None] = mapped_column(String(20), index=True)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"), index=True)
    vin: Mapped[str | None] = mapped_column(String(17), index=True)
    channel: Mapped[str] = mapped_column(String(30))
    kind: Mapped[str] = mapped_column(String(40))
    source_type: Mapped[str] = mapped_column(String(40))
    source_id: Mapped[str] = mapped_column(String(60))
    province: Mapped[str | None] = mapped_column(String(40))
    city: Mapped[str | None] = mapped_column(String(100))
    # What happened, in words a salesperson reads ("scanned a genuine oil filter at Zhengzhou"); no phone or name.
    summary: Mapped[str] = mapped_column(String(200), default="")
    consent_basis: Mapped[str] = mapped_column(String(20), default=ConsentBasis.SERVICE)
    # The service the person asked for, which a service-basis follow-up is limited to.
    consent_topic: Mapped[str] = mapped_column(String(40), default="")
    consent_text_version: Mapped[str | None] = mapped_column(String(40))
    # The organization the person asked to hear from (a referral's or walk-in's dealer, a campaign's): its pool
    # takes the lead even where another dealer's territory covers the same province. None: the province decides.
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    occurred_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    # Set once a reader (the leads domain) has taken the touchpoint in; a conditional UPDATE claims it.
    processed_at: Mapped[datetime | None] = mapped_column(index=True)

    __table_args__ = (Index("ix_crm_touchpoints_source", "source_type", "source_id"),)


class Notification(Base):
    """One message to one user on one channel: the in-app inbox always, SMS when asked and allowed.

    Quiet hours defer outside channels (deliver_at); the inbox shows a notification from its creation.
    """

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    channel: Mapped[str] = mapped_column(String(20), default="inbox")
    kind: Mapped[str] = mapped_column(String(60))
    purpose: Mapped[str] = mapped_column(String(20), default="service")
    # The message in English with %(name)s fields (a gettext msgid of the writing domain), and its values: the
    # inbox shows it in the reader's language, the SMS job in the default one.
    text: Mapped[str] = mapped_column(String(500))
    params: Mapped[dict] = mapped_column(JSON, default=dict)
    link: Mapped[str] = mapped_column(String(300), default="")
    subject_type: Mapped[str] = mapped_column(String(40), default="")
    subject_id: Mapped[str] = mapped_column(String(60), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    deliver_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None]
    read_at: Mapped[datetime | None]
    failure: Mapped[str] = mapped_column(String(200), default="")
    # Names the event ("booking 12 confirmed"): a retried request or job, or a second click, finds the row
    # already written for this person and kind and writes nothing (the unique index decides a race).
    dedupe_key: Mapped[str | None] = mapped_column(String(80))
    # The mobile number of the person the message names when that is not its reader (a lead told to a
    # salesperson): erasure finds such messages by this column's index instead of searching every message's text.
    about_phone: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (
        Index("ix_notifications_about_phone", "about_phone"),
        Index("ix_notifications_user_read", "user_id", "channel", "read_at"),
        Index("ix_notifications_due", "channel", "sent_at", "deliver_at"),
        Index("uq_notifications_once", "user_id", "channel", "kind", "dedupe_key", unique=True),
    )


class NotificationPreference(Base):
    """A user's quiet hours (local time, may wrap past midnight), SMS choice and marketing consent."""

    __tablename__ = "notification_preferences"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    quiet_start: Mapped[str | None] = mapped_column(String(5))
    quiet_end: Mapped[str | None] = mapped_column(String(5))
    sms_enabled: Mapped[bool] = mapped_column(default=True)
    marketing_opt_in: Mapped[bool] = mapped_column(default=False)
    marketing_text_version: Mapped[str | None] = mapped_column(String(40))
    marketing_changed_at: Mapped[datetime | None]
    # The language texts and WeChat messages are written in (the inbox follows the page's language); None: the
    # installation's default.
    locale: Mapped[str | None] = mapped_column(String(5))


class WechatGrant(Base):
    """One WeChat one-time subscription a person accepted in the mini-program: it allows exactly one message."""

    __tablename__ = "wechat_grants"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    openid: Mapped[str] = mapped_column(String(64))
    template_id: Mapped[str] = mapped_column(String(64))
    granted_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_wechat_grants_unused", "user_id", "template_id", "used_at"),)
