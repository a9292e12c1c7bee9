"""Service desk records: calendars, queues and members, SLA policies and clocks, requests and their timeline,
canned answers, attachments, surveys and held notifications."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, BigInteger, Date, Float, ForeignKey, Index, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crm.models import Customer, Organization, Vehicle
from app.db import Base, utcnow
from app.security import User

BigId = BigInteger().with_variant(Integer(), "sqlite")


class Channel(StrEnum):
    """Where a request came in."""

    PAGE = "page"
    API = "api"
    PHONE = "phone"
    CALLBACK = "callback"
    WECOM = "wecom"
    SCAN_REPORT = "scan_report"
    ROADSIDE = "roadside"
    BOOKING = "booking"
    REVIEW = "review"


class Category(StrEnum):
    """What a request is about; triage rules and SLA policies match on it."""

    FAULT = "fault"
    ROADSIDE = "roadside"
    BOOKING = "booking"
    COUNTERFEIT = "counterfeit"
    RECALL = "recall"
    PARTS = "parts"
    COMPLAINT = "complaint"
    BRAKES_STEERING = "brakes_steering"
    OTHER = "other"


# Categories whose clocks run on the 24/7 calendar whatever the queue's hours (a driver on the road).
SAFETY_CATEGORIES = frozenset({Category.ROADSIDE, Category.BRAKES_STEERING})


class Priority(StrEnum):
    """How urgent a request is (p1 most)."""

    P1 = "p1"
    P2 = "p2"
    P3 = "p3"
    P4 = "p4"


class RequestStatus(StrEnum):
    """Where a request is in its life."""

    NEW = "new"
    OPEN = "open"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    WAITING_ON_PARTS = "waiting_on_parts"
    WAITING_ON_THIRD_PARTY = "waiting_on_third_party"
    RESOLVED = "resolved"
    CLOSED = "closed"
    DEFLECTED = "deflected"
    MERGED = "merged"


PAUSE_STATUSES = frozenset(
    {RequestStatus.WAITING_ON_CUSTOMER, RequestStatus.WAITING_ON_PARTS, RequestStatus.WAITING_ON_THIRD_PARTY}
)
DONE_STATUSES = frozenset({RequestStatus.RESOLVED, RequestStatus.CLOSED, RequestStatus.DEFLECTED, RequestStatus.MERGED})
OPEN_STATUSES = frozenset(RequestStatus) - DONE_STATUSES


class QueueKind(StrEnum):
    """Who works a queue."""

    SHOP = "shop"
    DEALER = "dealer"
    OEM = "oem"


class AssignmentMode(StrEnum):
    """How a queue hands requests to its members."""

    MANUAL = "manual"
    BALANCED = "balanced"
    ROUND_ROBIN = "round_robin"


class Presence(StrEnum):
    """Whether a member can take work now."""

    ONLINE = "online"
    AWAY = "away"
    OFFLINE = "offline"


class Visibility(StrEnum):
    """Who sees a message."""

    CUSTOMER = "customer"
    INTERNAL = "internal"


class LinkKind(StrEnum):
    """What a request is linked to."""

    SCAN = "scan"
    ALERT = "alert"
    PART = "part"
    BOOKING = "booking"
    ASSISTANCE = "assistance"
    RECALL = "recall"
    REVIEW = "review"
    FAULT = "fault"
    SHOP = "shop"


class Calendar(Base):
    """A business calendar: weekly periods, China's holidays and 调休 or not, or 24/7."""

    __tablename__ = "service_calendars"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    zone: Mapped[str] = mapped_column(String(60), default="Asia/Shanghai")
    # {"mon": [["08:30", "12:00"], ["13:30", "18:00"]], ...}; missing days are closed.
    periods: Mapped[dict] = mapped_column(JSON, default=dict)
    cn_holidays: Mapped[bool] = mapped_column(default=True)
    always_open: Mapped[bool] = mapped_column(default=False)

    exceptions: Mapped[list[CalendarException]] = relationship(order_by="CalendarException.day")


class CalendarException(Base):
    """One day that differs from the rules: closed (no periods) or open at the given periods."""

    __tablename__ = "service_calendar_exceptions"
    __table_args__ = (UniqueConstraint("calendar_id", "day", name="uq_service_calendar_exceptions_calendar_id_day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("service_calendars.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    periods: Mapped[list] = mapped_column(JSON, default=list)
    note: Mapped[str] = mapped_column(String(200), default="")


class Queue(Base):
    """A line of requests worked by one team: a shop, a dealer, or one of the OEM's desks."""

    __tablename__ = "service_queues"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(60), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(200))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    calendar_id: Mapped[int] = mapped_column(ForeignKey("service_calendars.id"))
    assignment_mode: Mapped[str] = mapped_column(String(20), default=AssignmentMode.BALANCED)
    default_capacity: Mapped[int] = mapped_column(Integer, default=5)
    supervisor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    organization: Mapped[Organization | None] = relationship()
    calendar: Mapped[Calendar] = relationship()
    supervisor: Mapped[User | None] = relationship()
    members: Mapped[list[QueueMember]] = relationship(back_populates="queue", order_by="QueueMember.id")


class QueueMember(Base):
    """A person who works a queue, with a capacity (open requests at once) and a presence."""

    __tablename__ = "service_queue_members"
    __table_args__ = (UniqueConstraint("queue_id", "user_id", name="uq_service_queue_members_queue_id_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("service_queues.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    capacity: Mapped[int | None] = mapped_column(Integer)
    presence: Mapped[str] = mapped_column(String(20), default=Presence.OFFLINE)
    active: Mapped[bool] = mapped_column(default=True)
    # Round robin goes to the member assigned longest ago (never assigned first).
    last_assigned_at: Mapped[datetime | None]

    queue: Mapped[Queue] = relationship(back_populates="members")
    user: Mapped[User] = relationship()


class SlaPolicy(Base):
    """Targets in working minutes for requests matching queue, category, priority and fleet (None matches all)."""

    __tablename__ = "service_sla_policies"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("service_queues.id"), index=True)
    category: Mapped[str | None] = mapped_column(String(30))
    priority: Mapped[str | None] = mapped_column(String(4))
    fleet_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    first_response_minutes: Mapped[int] = mapped_column(Integer)
    next_response_minutes: Mapped[int] = mapped_column(Integer)
    resolution_minutes: Mapped[int] = mapped_column(Integer)
    # None: the queue's calendar (safety categories use 24/7 regardless).
    calendar_id: Mapped[int | None] = mapped_column(ForeignKey("service_calendars.id"))
    active: Mapped[bool] = mapped_column(default=True)

    calendar: Mapped[Calendar | None] = relationship()


class ServiceRequest(Base):
    """One matter a driver, fleet or shop raised, from any channel, with the truck's context linked."""

    __tablename__ = "service_requests"
    __table_args__ = (
        Index("ix_service_requests_queue_id_status_created_at", "queue_id", "status", "created_at"),
        Index("ix_service_requests_phone_created_at", "phone", "created_at"),
        Index("ix_service_requests_vehicle_id_created_at", "vehicle_id", "created_at"),
        UniqueConstraint("channel", "external_ref", name="uq_service_requests_channel_external_ref"),
        Index("ix_service_requests_channel_channel_user", "channel", "channel_user"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    category: Mapped[str] = mapped_column(String(30))
    priority: Mapped[str] = mapped_column(String(4), default=Priority.P3)
    status: Mapped[str] = mapped_column(String(30), default=RequestStatus.NEW, index=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(String(4000), default="")
    locale: Mapped[str] = mapped_column(String(5), default="zh")
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    # The number to call back: the customer's, or the caller's when nobody matched.
    phone: Mapped[str | None] = mapped_column(String(20))
    caller_name: Mapped[str] = mapped_column(String(100), default="")
    vehicle_id: Mapped[int | None] = mapped_column(ForeignKey("vehicles.id"))
    queue_id: Mapped[int] = mapped_column(ForeignKey("service_queues.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # The shop (or dealer) a complaint is about: it never sees the request.
    concerns_organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("service_sla_policies.id"))
    fault_codes: Mapped[list] = mapped_column(JSON, default=list)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    route_code: Mapped[str | None] = mapped_column(String(20))
    km: Mapped[float | None] = mapped_column(Float)
    # The message id of the source channel (WeCom msgid, a scan report id): a repeat delivery is one request.
    external_ref: Mapped[str | None] = mapped_column(String(120))
    # Who wrote on the channel when it has its own user ids (WeCom's external_userid): later messages join this.
    channel_user: Mapped[str | None] = mapped_column(String(80))
    # A complaint's finding for the shop's certification evidence: upheld, not_upheld or settled.
    outcome: Mapped[str | None] = mapped_column(String(20))
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    assigned_at: Mapped[datetime | None]
    first_responded_at: Mapped[datetime | None]
    # When the customer last wrote and nobody has answered since (the next-response clock runs from it).
    awaiting_reply_since: Mapped[datetime | None]
    resolved_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    merged_into_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("service_requests.id"))
    callback_requested: Mapped[bool] = mapped_column(default=False)

    queue: Mapped[Queue] = relationship()
    customer: Mapped[Customer | None] = relationship()
    vehicle: Mapped[Vehicle | None] = relationship()
    assignee: Mapped[User | None] = relationship(foreign_keys=[assignee_id])
    policy: Mapped[SlaPolicy | None] = relationship()
    concerns_organization: Mapped[Organization | None] = relationship(foreign_keys=[concerns_organization_id])
    clocks: Mapped[list[SlaClock]] = relationship(back_populates="request", order_by="SlaClock.id")
    links: Mapped[list[RequestLink]] = relationship(back_populates="request", order_by="RequestLink.id")

    @property
    def number(self) -> str:
        """Return the request number people quote: SR- and the id."""
        return f"SR-{self.id:06d}"


class RequestLink(Base):
    """A record of another domain the request is about (a scan, booking, roadside job, recall, ...)."""

    __tablename__ = "service_request_links"
    __table_args__ = (
        UniqueConstraint("request_id", "kind", "ref_id", name="uq_service_request_links_request_id_kind_ref_id"),
        Index("ix_service_request_links_kind_ref_id", "kind", "ref_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(BigId, ForeignKey("service_requests.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    ref_id: Mapped[int] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    request: Mapped[ServiceRequest] = relationship(back_populates="links")


class Message(Base):
    """A message on a request: the customer's, an agent's reply (customer-visible or internal), an auto-reply."""

    __tablename__ = "service_messages"
    __table_args__ = (
        Index("ix_service_messages_request_id_created_at", "request_id", "created_at"),
        UniqueConstraint("via_channel", "external_ref", name="uq_service_messages_via_channel_external_ref"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[int] = mapped_column(BigId, ForeignKey("service_requests.id", ondelete="CASCADE"))
    author_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    visibility: Mapped[str] = mapped_column(String(20), default=Visibility.CUSTOMER)
    body: Mapped[str] = mapped_column(String(4000))
    via_channel: Mapped[str] = mapped_column(String(20))
    is_auto: Mapped[bool] = mapped_column(default=False)
    # The channel's message id (WeCom msgid), so a repeated delivery is stored once.
    external_ref: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    author_user: Mapped[User | None] = relationship()


class Event(Base):
    """One timeline entry: a status, queue, assignee or clock change, a link, a reveal of a phone number."""

    __tablename__ = "service_events"
    __table_args__ = (Index("ix_service_events_request_id_at", "request_id", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[int] = mapped_column(BigId, ForeignKey("service_requests.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(30))
    from_value: Mapped[str | None] = mapped_column(String(200))
    to_value: Mapped[str | None] = mapped_column(String(200))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime] = mapped_column(default=utcnow)

    actor: Mapped[User | None] = relationship()


class SlaClock(Base):
    """One of a request's three clocks; only time-stable facts are stored, the status is computed on read."""

    __tablename__ = "service_sla_clocks"
    __table_args__ = (
        UniqueConstraint("request_id", "kind", name="uq_service_sla_clocks_request_id_kind"),
        Index("ix_service_sla_clocks_due_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[int] = mapped_column(BigId, ForeignKey("service_requests.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    policy_id: Mapped[int | None] = mapped_column(ForeignKey("service_sla_policies.id"))
    started_at: Mapped[datetime]
    target_minutes: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[datetime | None]
    # Working seconds paused so far (kept across policy changes) and since when it is paused now.
    paused_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    paused_since: Mapped[datetime | None]
    met_at: Mapped[datetime | None]
    breached_at: Mapped[datetime | None]
    warned_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]

    request: Mapped[ServiceRequest] = relationship(back_populates="clocks")


class CannedAnswer(Base):
    """A reply an agent inserts by shortcut, with a body per locale and {placeholders}."""

    __tablename__ = "service_canned_answers"

    id: Mapped[int] = mapped_column(primary_key=True)
    # oem (everyone), org (one organization's queues) or user (one agent).
    scope: Mapped[str] = mapped_column(String(10), default="oem")
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    shortcut: Mapped[str] = mapped_column(String(30), index=True)
    title: Mapped[str] = mapped_column(String(200))
    # {"zh": "...", "en": "..."}
    bodies: Mapped[dict] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Attachment(Base):
    """A photo sent with a request, re-encoded on upload (which drops EXIF and its GPS position)."""

    __tablename__ = "service_attachments"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[int] = mapped_column(BigId, ForeignKey("service_requests.id", ondelete="CASCADE"), index=True)
    content_type: Mapped[str] = mapped_column(String(40))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Survey(Base):
    """A satisfaction survey sent after a resolution: a token link, one answer, valid for 14 days."""

    __tablename__ = "service_surveys"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(BigId, ForeignKey("service_requests.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # Who resolved it (the agent the answer is about) and through which queue, fixed when it was sent.
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    queue_id: Mapped[int] = mapped_column(ForeignKey("service_queues.id"))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    answered_at: Mapped[datetime | None]
    solved: Mapped[bool | None]
    stars: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(String(1000), default="")

    request: Mapped[ServiceRequest] = relationship()


class ChannelIdentity(Base):
    """A customer's id on a messaging channel (WeCom external_userid), once an agent or a bound account matched it."""

    __tablename__ = "service_channel_identities"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_service_channel_identities_channel_external_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    external_id: Mapped[str] = mapped_column(String(80))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class HeldNotification(Base):
    """A notification for an agent, held until the queue's calendar opens (none at 3 a.m. for an office queue)."""

    __tablename__ = "service_held_notifications"
    __table_args__ = (Index("ix_service_held_notifications_release_at", "release_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    request_id: Mapped[int] = mapped_column(BigId, ForeignKey("service_requests.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    kind: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    release_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
