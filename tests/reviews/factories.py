"""Factories for reviews tests: shops, bookings in any state, reviews written through the domain."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.crm.models import Customer
from app.db import utcnow
from app.security import Role, User
from network.models import Booking, BookingStatus, Shop
from reviews.publishing import Stars, publish_review
from reviews.settings import DEFAULT_THRESHOLDS, ReviewSettings, parse_thresholds
from reviews.tiers import Kpis
from tests.factories import make_driver, make_user, make_vehicle

# The one shop factory of the tests (it bumps the shop index stamp); re-exported for the reviews tests.
from tests.network.factories import make_shop as make_shop
from traceability.models import Installation, Part

# The certification tests' clock, the default thresholds, and one KPI record per kind of evidence: the level each
# meets under those thresholds ("none" .. "gold"), or the integrity breach it shows.
CERTIFICATION_NOW = datetime(2026, 6, 1, tzinfo=UTC)
THRESHOLDS = parse_thresholds(DEFAULT_THRESHOLDS)
EVIDENCE = {
    "none": Kpis(rating=3.1, rating_count=2, completion_rate=0.5, genuine_part_ratio=0.0, roadside_response_minutes=45),
    # Candidate, and short of certified on rating, genuine parts and roadside response.
    "candidate": Kpis(
        rating=3.8, rating_count=4, completion_rate=0.8, genuine_part_ratio=0.0, roadside_response_minutes=45
    ),
    "certified": Kpis(rating=4.2, rating_count=12, completion_rate=0.9, genuine_part_ratio=0.7),
    "gold": Kpis(
        rating=4.6,
        rating_count=30,
        completion_rate=0.97,
        rejection_rate=0.02,
        no_show_rate=0.01,
        roadside_acceptance_rate=0.9,
        roadside_response_minutes=8,
        genuine_part_ratio=0.95,
    ),
    "counterfeit": Kpis(rating=4.6, rating_count=30, counterfeit_incidents=1),
    "fake_reviews": Kpis(rating=4.6, rating_count=30, flagged_reviews=3),
    "counterfeit_and_fake_reviews": Kpis(rating=4.6, rating_count=30, counterfeit_incidents=2, flagged_reviews=4),
}


def make_shop_staff(session: Session, shop: Shop) -> User:
    return make_user(session, Role.SHOP_STAFF, organization=shop.organization)


def make_booking(
    session: Session,
    shop: Shop,
    customer: Customer | None = None,
    status: str = BookingStatus.COMPLETED,
    completed_at: datetime | None = None,
    service: str = "repair",
    start: datetime | None = None,
) -> Booking:
    if customer is None:
        _user, customer = make_driver(session)
    start = start or (completed_at or utcnow()) - timedelta(hours=2)
    booking = Booking(
        shop_id=shop.id,
        customer_id=customer.id,
        vehicle_id=make_vehicle(session, owner=customer).id,
        service=service,
        start=start,
        end=start + timedelta(minutes=shop.slot_minutes),
        status=status,
        completed_at=(completed_at or utcnow() - timedelta(hours=1)) if status == BookingStatus.COMPLETED else None,
    )
    session.add(booking)
    session.flush()
    return booking


def write_review(
    session: Session,
    shop: Shop,
    stars: int = 5,
    *,
    driver: tuple[User, Customer] | None = None,
    now: datetime | None = None,
    completed_at: datetime | None = None,
    device: str | None = None,
    settings: ReviewSettings | None = None,
    service: str = "repair",
    **dimensions: int,
):
    """Complete a booking at `shop` for a (new) driver and publish their review through the domain."""
    user, customer = driver or make_driver(session)
    now = now or utcnow()
    completed_at = completed_at or now - timedelta(days=1)
    booking = make_booking(session, shop, customer, completed_at=completed_at, service=service)
    values = dict.fromkeys(("overall", "quality", "price", "timeliness", "honesty"), stars) | dimensions
    return publish_review(
        session, user, booking.id, Stars(**values), "text", settings or ReviewSettings(), now, device_id=device
    )


def install_genuine_parts(session: Session, shop: Shop, count: int, installed_at: datetime | None = None) -> None:
    """Commission `count` parts, stock them at the shop and install them through traceability's services
    (`installed_at` moves the installations back in time, as if the shop had installed them then)."""
    from tests.traceability.factories import activation_code, make_batch, record, stock_parts

    batch = make_batch(session, quantity=count)
    parts = session.scalars(select(Part).where(Part.batch_id == batch.id)).all()
    staff = stock_parts(session, parts, shop.organization)
    for part in parts:
        vehicle = make_vehicle(session)
        record(session, staff, "install", [part], vin=vehicle.vin, activation_code=activation_code(part))
    if installed_at is not None:
        ids = [part.id for part in parts]
        session.execute(update(Installation).where(Installation.part_id.in_(ids)).values(installed_at=installed_at))
        session.flush()
