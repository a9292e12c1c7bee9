"""One request from every channel: the driver's page and the mini-program, a logged phone call, "call me back",
WeCom, and the entry points of other domains (a scan's problem report, an escalated roadside request, a disputed
booking, a review flagged as a complaint)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.customers import find_customer_for_user, is_own_customer
from app.crm.identifiers import normalize_phone
from app.crm.models import Customer, Organization, Vehicle
from app.crm.touchpoints import Channel as TouchChannel
from app.crm.touchpoints import record_touchpoint
from app.errors import Forbidden, InvalidInput
from app.security import Role, User
from network.models import AssistanceRequest, Booking
from network.routes import RouteNetwork
from service.assignment import dispatch_backlog
from service.models import Category, Channel, LinkKind, Message, Priority, RequestStatus, ServiceRequest, Visibility
from service.queues import OEM_DESK, ensure_oem_queues
from service.settings import ServiceSettings
from service.sla import start_clocks
from service.timeline import link_record, record_event
from service.triage import Conversions, triage_request
from traceability.models import ProblemReport

MAX_SUBJECT = 200
MAX_BODY = 4000
# Auto-acknowledgements tell the driver the request arrived; they never count as a response.
ACK = {
    "zh": "已收到您的服务请求 %(number)s，我们会尽快回复。",
    "en": "We received your request %(number)s and will answer soon.",
}


@dataclass
class NewRequest:
    """What any channel knows about a new request."""

    channel: str
    category: str
    subject: str
    body: str = ""
    priority: str = Priority.P3
    customer: Customer | None = None
    phone: str | None = None
    caller_name: str = ""
    vehicle: Vehicle | None = None
    lat: float | None = None
    lon: float | None = None
    links: list[tuple[str, int]] = field(default_factory=list)
    concerns_organization: Organization | None = None
    external_ref: str | None = None
    locale: str = "zh"
    callback: bool = False
    fault_codes: list[str] = field(default_factory=list)


def clean_text(value: str | None, limit: int, field_name: str) -> str:
    """Strip a free text, drop NUL and other control characters, and refuse one that is too long."""
    text = "".join(ch for ch in (value or "") if ch in "\n\t" or ch >= " ").strip()
    if len(text) > limit:
        raise InvalidInput("%(field)s is longer than %(limit)s characters", field=field_name, limit=limit)
    return text


def check_position(lat: float | None, lon: float | None) -> None:
    """Refuse a position that is not a point on Earth (both or neither must be given)."""
    if (lat is None) != (lon is None):
        raise InvalidInput("give both lat and lon, or neither", field="lat")
    if lat is not None and not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInput("lat/lon are not a position on Earth", field="lat")


def open_request(
    session: Session,
    actor: User | None,
    new: NewRequest,
    settings: ServiceSettings,
    now: datetime,
    *,
    conversions: Conversions | None = None,
    routes: RouteNetwork | None = None,
    rng: random.Random | None = None,
) -> ServiceRequest:
    """Open a request: link its context, triage it into a queue, start its clocks, assign it if someone is free."""
    if new.category not in Category.__members__.values():
        raise InvalidInput("unknown category", field="category")
    if new.priority not in Priority.__members__.values():
        raise InvalidInput("unknown priority", field="priority")
    check_position(new.lat, new.lon)
    if new.external_ref:
        existing = session.scalar(
            select(ServiceRequest).where(
                ServiceRequest.channel == new.channel, ServiceRequest.external_ref == new.external_ref
            )
        )
        if existing is not None:
            return existing
    subject = clean_text(new.subject, MAX_SUBJECT, "subject")
    body = clean_text(new.body, MAX_BODY, "text")
    if not subject and not body and not new.callback:
        raise InvalidInput("say what the problem is", field="text")
    customer = new.customer or (new.vehicle.owner if new.vehicle is not None else None)
    # A provisional queue so the row can be written; triage decides the real one once the links are in.
    provisional = ensure_oem_queues(session)[OEM_DESK]
    request = ServiceRequest(
        queue=provisional,
        channel=new.channel,
        category=new.category,
        priority=new.priority,
        status=RequestStatus.NEW,
        subject=subject or body[:MAX_SUBJECT],
        body=body,
        locale=new.locale if new.locale in ACK else "zh",
        customer=customer,
        phone=new.phone or (customer.phone if customer is not None else None),
        caller_name=clean_text(new.caller_name, 100, "name"),
        vehicle=new.vehicle,
        lat=new.lat,
        lon=new.lon,
        concerns_organization=new.concerns_organization,
        external_ref=new.external_ref,
        fault_codes=[clean_text(code, 40, "codes") for code in new.fault_codes][:20],
        callback_requested=new.callback,
        opened_by_id=actor.id if actor is not None and actor.role != Role.DRIVER else None,
        created_at=now,
        updated_at=now,
    )
    if routes is not None and new.lat is not None:
        # The road and km the truck is on, when it is on one: the agent sees "G4 km 512 northbound".
        found = routes.snap(new.lat, new.lon, 2.0)
        if found:
            request.route_code, request.km = found[0].route, round(found[0].km, 1)
    session.add(request)
    _place(session, actor, request, new, settings, now, conversions, rng)
    # A service request is intent the dealers may follow up on that matter (the leads domain reads touchpoints).
    record_touchpoint(
        session, channel=TouchChannel.SERVICE_REQUEST, kind=request.category, source_type="service_request",
        source_id=request.id, customer=customer, phone=request.phone, vehicle=new.vehicle,
        summary=f"service request: {request.category}", occurred_at=now,
    )  # fmt: skip
    return request


def _place(
    session: Session,
    actor: User | None,
    request: ServiceRequest,
    new: NewRequest,
    settings: ServiceSettings,
    now: datetime,
    conversions: Conversions | None,
    rng: random.Random | None,
) -> None:
    session.flush()
    for kind, ref_id in new.links:
        link_record(session, request, kind, ref_id, actor)
    if request.vehicle is not None:
        _link_truck_context(session, request)
    record_event(session, request, "opened", actor, to_value=request.channel, at=now)
    if body := request.body or request.subject:
        session.add(
            Message(
                request_id=request.id,
                author_customer_id=request.customer_id if actor is None or actor.role == Role.DRIVER else None,
                author_user_id=actor.id if actor is not None and actor.role != Role.DRIVER else None,
                visibility=Visibility.CUSTOMER,
                body=body,
                via_channel=request.channel,
                created_at=now,
            )
        )
    queue = triage_request(session, actor, request, conversions)
    record_event(session, request, "queued", actor, to_value=queue.code, at=now)
    start_clocks(session, request, settings)
    if request.channel not in (Channel.PHONE,):
        session.add(
            Message(
                request_id=request.id,
                visibility=Visibility.CUSTOMER,
                body=ACK[request.locale] % {"number": request.number},
                via_channel=request.channel,
                is_auto=True,
                created_at=now,
            )
        )
    session.flush()
    dispatch_backlog(session, queue, now, rng)


def _link_truck_context(session: Session, request: ServiceRequest) -> None:
    """Link the truck's open roadside job and its bookings of the last and next 7 days."""
    vehicle_id = request.vehicle_id
    open_jobs = session.scalars(
        select(AssistanceRequest.id).where(
            AssistanceRequest.vehicle_id == vehicle_id, AssistanceRequest.closed_at.is_(None)
        )
    )
    for job_id in open_jobs:
        link_record(session, request, LinkKind.ASSISTANCE, job_id)
    window = timedelta(days=7)
    bookings = session.scalars(
        select(Booking.id).where(
            Booking.vehicle_id == vehicle_id,
            Booking.start >= request.created_at - window,
            Booking.start <= request.created_at + window,
        )
    )
    for booking_id in bookings:
        link_record(session, request, LinkKind.BOOKING, booking_id)


def own_vehicle(session: Session, actor: User, vin: str | None) -> Vehicle | None:
    """Return the actor's truck with this VIN (None when no VIN is given)."""
    if not vin:
        return None
    vehicle = session.scalar(select(Vehicle).where(Vehicle.vin == vin.strip().upper()[:17]))
    if vehicle is None or not is_own_customer(actor, vehicle.owner):
        raise InvalidInput("pick one of your own trucks", field="vin")
    return vehicle


def submit_driver_request(
    session: Session,
    actor: User,
    *,
    category: str,
    text: str,
    vin: str | None,
    lat: float | None,
    lon: float | None,
    channel: str,
    settings: ServiceSettings,
    now: datetime,
    codes: list[str] | None = None,
    locale: str = "zh",
    callback: bool = False,
    links: list[tuple[str, int]] | None = None,
    conversions: Conversions | None = None,
    routes: RouteNetwork | None = None,
) -> ServiceRequest:
    """Open a driver's own request from the page, the mini-program or the "call me back" button."""
    if actor.role != Role.DRIVER:
        raise Forbidden("only drivers open requests here; staff log calls at the desk")
    customer = find_customer_for_user(session, actor)
    if customer is None:
        raise Forbidden("your account has no customer record")
    vehicle = own_vehicle(session, actor, vin)
    new = NewRequest(
        channel=channel,
        category=category,
        subject="",
        body=text,
        customer=customer,
        vehicle=vehicle,
        lat=lat,
        lon=lon,
        locale=locale,
        callback=callback,
        priority=Priority.P2 if callback else Priority.P3,
        fault_codes=codes or [],
        links=links or [],
    )
    return open_request(session, actor, new, settings, now, conversions=conversions, routes=routes)


def log_phone_call(
    session: Session,
    actor: User,
    *,
    phone: str,
    caller_name: str,
    category: str,
    text: str,
    vin: str | None,
    settings: ServiceSettings,
    now: datetime,
) -> ServiceRequest:
    """Record a call an agent took; the caller's number is matched to a customer when one has it."""
    if actor.role == Role.DRIVER:
        raise Forbidden("only staff log calls")
    number = normalize_phone(phone)
    customer = session.scalar(select(Customer).where(Customer.phone == number))
    vehicle = None
    if vin:
        vehicle = session.scalar(select(Vehicle).where(Vehicle.vin == vin.strip().upper()[:17]))
        if vehicle is None:
            raise InvalidInput("no truck with this VIN", field="vin")
    new = NewRequest(
        channel=Channel.PHONE,
        category=category,
        subject="",
        body=text,
        customer=customer,
        phone=number,
        caller_name=caller_name,
        vehicle=vehicle,
    )
    return open_request(session, actor, new, settings, now)


def open_from_problem_report(
    session: Session, report: ProblemReport, settings: ServiceSettings, now: datetime
) -> ServiceRequest:
    """Open the OEM parts team's request for a scan page's "report a problem" (once per report)."""
    new = NewRequest(
        channel=Channel.SCAN_REPORT,
        category=Category.COUNTERFEIT if report.problem in ("counterfeit", "fake", "suspect") else Category.PARTS,
        subject=report.problem,
        body=report.message,
        links=[(LinkKind.ALERT, report.alert_id)] + ([(LinkKind.PART, report.part_id)] if report.part_id else []),
        external_ref=f"problem_report:{report.id}",
    )
    return open_request(session, None, new, settings, now)


def open_from_escalated_roadside(
    session: Session, job: AssistanceRequest, settings: ServiceSettings, now: datetime
) -> ServiceRequest:
    """Open the OEM desk's request for a roadside job no shop accepted (once per job)."""
    new = NewRequest(
        channel=Channel.ROADSIDE,
        category=Category.ROADSIDE,
        subject=job.description[:MAX_SUBJECT],
        body=job.description,
        priority=Priority.P1,
        customer=job.customer,
        vehicle=job.vehicle,
        lat=job.lat,
        lon=job.lon,
        links=[(LinkKind.ASSISTANCE, job.id)],
        external_ref=f"assistance:{job.id}",
    )
    return open_request(session, None, new, settings, now)


def open_from_disputed_booking(
    session: Session, actor: User, booking: Booking, text: str, settings: ServiceSettings, now: datetime
) -> ServiceRequest:
    """A driver disputes a rejected, cancelled or no-show booking: a complaint for the OEM network team."""
    if not is_own_customer(actor, booking.customer):
        raise Forbidden("you can only dispute your own bookings")
    if booking.status not in ("rejected", "cancelled", "no_show"):
        raise InvalidInput("only rejected, cancelled or no-show bookings can be disputed", field="booking")
    new = NewRequest(
        channel=Channel.BOOKING,
        category=Category.COMPLAINT,
        subject="",
        body=text,
        customer=booking.customer,
        vehicle=booking.vehicle,
        links=[(LinkKind.BOOKING, booking.id), (LinkKind.SHOP, booking.shop_id)],
        concerns_organization=booking.shop.organization,
        external_ref=f"booking:{booking.id}",
    )
    return open_request(session, actor, new, settings, now)


def open_from_review_complaint(
    session: Session,
    review_id: int,
    shop_organization: Organization,
    customer: Customer,
    text: str,
    settings: ServiceSettings,
    now: datetime,
) -> ServiceRequest:
    """A review flagged as a complaint: the OEM network team handles it, never the shop reviewed."""
    new = NewRequest(
        channel=Channel.REVIEW,
        category=Category.COMPLAINT,
        subject="",
        body=text,
        customer=customer,
        links=[(LinkKind.REVIEW, review_id)],
        concerns_organization=shop_organization,
        external_ref=f"review:{review_id}",
    )
    return open_request(session, None, new, settings, now)
