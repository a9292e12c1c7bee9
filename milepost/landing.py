"""The start page of each role: what the role does, one tap away, and a few live figures of its own work.

The shell sits above every domain, so it is the one place that may count a driver's trucks and bookings, a
shop's bookings, offers and stock, and a factory's batches on one page. Every figure is the signed-in person's
own (their customer record, their organization); nobody sees another's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from flask import render_template, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.clock import zone
from app.crm.customers import find_customer_for_user
from app.crm.models import Vehicle
from app.db import utcnow
from app.security import Role, User
from app.web.context import current_actor, db_session, settings
from network.models import AssistanceOffer, AssistanceRequest, AssistanceStatus, Booking, BookingStatus, OfferStatus
from network.shops import find_shop_of_organization
from reviews.models import CertificationState, Review
from traceability.models import Alert, AlertStatus, Batch, Part, PartState, Sale
from traceability.recalls import count_recalled_vehicles, list_owner_recalls

OPEN_BOOKINGS = (BookingStatus.REQUESTED, BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN)
OPEN_ROADSIDE = (AssistanceStatus.OPEN, AssistanceStatus.ACCEPTED, AssistanceStatus.ESCALATED)
# The OEM dashboard is built by its own pages; the start page only links to it.
OEM_DASHBOARD_PATH = "/oem"


@dataclass(frozen=True)
class Tile:
    """One thing the role does: a translated label, where it is, and a live figure when there is one."""

    label: str
    url: str
    figure: int | None = None
    key: str = ""


@dataclass(frozen=True)
class Alarm:
    """Something on the start page the person must not miss: a recall on their truck."""

    key: str
    title: str
    text: str
    url: str


@dataclass
class Landing:
    """What a role's start page shows."""

    role: str
    title: str
    tiles: list[Tile] = field(default_factory=list)
    note: str = ""
    warnings: list[Alarm] = field(default_factory=list)


def _count(session: Session, statement) -> int:
    return int(session.scalar(statement) or 0)


def _today_bounds(now: datetime) -> tuple[datetime, datetime]:
    local = zone(settings())
    start = datetime.combine(now.astimezone(local).date(), time(0), tzinfo=local)
    return start, start + timedelta(days=1)


def _counter(action: str) -> str:
    return url_for("counter.counter", action=action)


def _recall_warnings(session: Session, customer_id: int) -> list[Alarm]:
    english = get_locale().language == "en"
    warnings = []
    for recall, installation in list_owner_recalls(session, customer_id):
        vehicle, part_type = installation.vehicle, installation.part.part_type
        truck = vehicle.plate or vehicle.vin
        title = _(
            "Recall %(code)s: %(part)s on your truck %(truck)s",
            code=recall.code,
            truck=truck,
            part=(part_type.name_en if english else part_type.name_zh),
        )
        notice = recall.notice_en if english else recall.notice_zh
        warnings.append(
            Alarm(f"recall-{recall.code}-{vehicle.vin}", title, notice, url_for("crm.show_vehicle", vin=vehicle.vin))
        )
    return warnings


def _driver(session: Session, actor: User, now: datetime) -> Landing:
    customer = find_customer_for_user(session, actor)
    trucks = bookings = roadside = 0
    warnings: list[Alarm] = []
    if customer is not None:
        warnings = _recall_warnings(session, customer.id)
        trucks = _count(session, select(func.count()).select_from(Vehicle).where(Vehicle.owner_id == customer.id))
        bookings = _count(
            session,
            select(func.count())
            .select_from(Booking)
            .where(Booking.customer_id == customer.id, Booking.status.in_(OPEN_BOOKINGS), Booking.start >= now),
        )
        roadside = _count(
            session,
            select(func.count())
            .select_from(AssistanceRequest)
            .where(AssistanceRequest.customer_id == customer.id, AssistanceRequest.status.in_(OPEN_ROADSIDE)),
        )
    return Landing(
        Role.DRIVER,
        str(_l("Your trucks and your road")),
        [
            Tile(str(_l("My trucks")), url_for("crm.list_vehicles"), trucks, "trucks"),
            Tile(str(_l("My bookings")), url_for("network.my_bookings"), bookings, "bookings"),
            Tile(str(_l("Roadside help")), url_for("network.ask_for_help"), roadside, "roadside"),
            Tile(str(_l("Scan a part")), url_for("counter.scan"), key="scan"),
            Tile(str(_l("Find a shop")), url_for("network.find_shops"), key="find"),
            Tile(str(_l("Shops ahead")), url_for("network.ahead"), key="ahead"),
            Tile(str(_l("Reviews")), url_for("reviews.to_review"), key="reviews"),
        ],
        warnings=warnings,
    )


def _stock_counts(session: Session, organization_id: int | None) -> tuple[int, int]:
    held = _count(
        session,
        select(func.count())
        .select_from(Part)
        .where(Part.holder_id == organization_id, Part.state.in_((PartState.IN_STOCK, PartState.REMOVED))),
    )
    arriving = _count(
        session,
        select(func.count())
        .select_from(Part)
        .where(Part.destination_id == organization_id, Part.state == PartState.IN_TRANSIT),
    )
    return held, arriving


def _shop(session: Session, actor: User, now: datetime) -> Landing:
    shop = find_shop_of_organization(session, actor.organization_id)
    held, arriving = _stock_counts(session, actor.organization_id)
    today = offers = reviews = 0
    tiles: list[Tile] = []
    if shop is not None:
        start, end = _today_bounds(now)
        today = _count(
            session,
            select(func.count())
            .select_from(Booking)
            .where(Booking.shop_id == shop.id, Booking.start >= start, Booking.start < end),
        )
        offers = _count(
            session,
            select(func.count())
            .select_from(AssistanceOffer)
            .where(AssistanceOffer.shop_id == shop.id, AssistanceOffer.status == OfferStatus.OFFERED),
        )
        reviews = _count(session, select(func.count()).select_from(Review).where(Review.shop_id == shop.id))
    tiles = [
        Tile(str(_l("Today's bookings")), url_for("network.console"), today, "today"),
        Tile(str(_l("Open roadside offers")), url_for("network.console"), offers, "offers"),
        Tile(str(_l("Install a part")), _counter("install"), key="install"),
        Tile(str(_l("Receive parts")), _counter("receive"), arriving, "receive"),
        Tile(str(_l("Sell parts")), _counter("sell"), key="sell"),
        Tile(str(_l("Stock")), url_for("counter.stock"), held, "stock"),
    ]
    if shop is not None:
        tiles.append(Tile(str(_l("Plaque")), url_for("reviews.plaque_manage", code=shop.code), key="plaque"))
        tiles.append(Tile(str(_l("Reviews")), url_for("reviews.shop_reviews", code=shop.code), reviews, "reviews"))
    title = shop.name if shop is not None else str(_l("Service shop"))
    return Landing(Role.SHOP_STAFF, title, tiles)


def _trader(session: Session, actor: User, now: datetime) -> Landing:
    held, arriving = _stock_counts(session, actor.organization_id)
    sold = _count(
        session,
        select(func.count())
        .select_from(Sale)
        .where(Sale.seller_id == actor.organization_id, Sale.sold_at >= now - timedelta(days=30)),
    )
    tiles = [
        Tile(str(_l("Receive parts")), _counter("receive"), arriving, "receive"),
        Tile(str(_l("Ship parts")), _counter("ship"), key="ship"),
        Tile(str(_l("Sell parts")), _counter("sell"), sold, "sell"),
        Tile(str(_l("Stock")), url_for("counter.stock"), held, "stock"),
    ]
    if actor.role == Role.DEALER_STAFF:
        tiles.insert(3, Tile(str(_l("Install a part")), _counter("install"), key="install"))
    title = str(_l("Dealer counter")) if actor.role == Role.DEALER_STAFF else str(_l("Parts warehouse"))
    return Landing(actor.role, title, tiles, str(_l("Figures: parts on their way to you, sold in 30 days, in stock.")))


def _factory(session: Session, actor: User, now: datetime) -> Landing:
    batches = _count(session, select(func.count()).select_from(Batch).where(Batch.factory_id == actor.organization_id))
    recent = _count(
        session,
        select(func.coalesce(func.sum(Batch.quantity), 0)).where(
            Batch.factory_id == actor.organization_id, Batch.created_at >= now - timedelta(days=30)
        ),
    )
    at_factory = _count(
        session,
        select(func.count())
        .select_from(Part)
        .where(Part.holder_id == actor.organization_id, Part.state == PartState.PRODUCED),
    )
    return Landing(
        Role.FACTORY_STAFF,
        str(_l("Factory")),
        [
            Tile(str(_l("Batches")), url_for("factory.batches"), batches, "batches"),
            Tile(str(_l("Commission a batch")), url_for("factory.new_batch"), recent, "commission"),
            Tile(str(_l("Labels")), url_for("factory.batches"), key="labels"),
            Tile(str(_l("Ship parts")), _counter("ship"), at_factory, "ship"),
        ],
        str(_l("Figures: batches, parts commissioned in 30 days, parts at the factory.")),
    )


def _oem(session: Session, actor: User, now: datetime) -> Landing:
    alerts = _count(session, select(func.count()).select_from(Alert).where(Alert.status != AlertStatus.CLOSED))
    pending = _count(session, select(func.count()).where(CertificationState.pending_tier.is_not(None)))
    return Landing(
        Role.OEM_ADMIN,
        str(_l("OEM")),
        [
            Tile(str(_l("Dashboard")), OEM_DASHBOARD_PATH, key="dashboard"),
            Tile(str(_l("Alerts")), url_for("traceability_oem.list_alerts", status="open"), alerts, "alerts"),
            Tile(
                str(_l("Recalls")),
                url_for("traceability_oem.list_recalls"),
                count_recalled_vehicles(session),
                "recalls",
            ),
            Tile(str(_l("Certification")), url_for("reviews.board"), pending, "certification"),
            Tile(str(_l("Coverage")), url_for("network.coverage_page"), key="coverage"),
            Tile(str(_l("Roadside desk")), url_for("network.roadside_desk"), key="desk"),
            Tile(str(_l("Jobs")), url_for("jobs.job_status_page"), key="jobs"),
        ],
        str(_l("Figures: alerts not closed, trucks carrying a recalled part, certification changes waiting.")),
    )


BUILDERS = {
    Role.DRIVER: _driver,
    Role.SHOP_STAFF: _shop,
    Role.DEALER_STAFF: _trader,
    Role.WAREHOUSE_STAFF: _trader,
    Role.FACTORY_STAFF: _factory,
    Role.OEM_ADMIN: _oem,
}


def landing_for(session: Session, actor: User, now: datetime) -> Landing:
    """Return the start page of the actor's role."""
    return BUILDERS[Role(actor.role)](session, actor, now)


def home():
    """Show the start page for the signed-in role, or the public one."""
    actor = current_actor()
    if actor is None:
        return render_template("home.html")
    landing = landing_for(db_session(), actor, utcnow())
    return render_template("milepost/home_role.html", landing=landing)
