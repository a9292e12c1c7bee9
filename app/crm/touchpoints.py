"""Touchpoints: every domain records here when a person shows intent; the leads domain above turns them into leads.

Lower domains may not import the leads domain, so this is the one door: `record_touchpoint(...)`. It never
fails the caller's operation for want of a phone (a touchpoint nobody can follow up is simply not written).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.crm.models import ConsentBasis, Customer, Touchpoint, Vehicle
from app.db import stamp_once, utcnow
from app.errors import InvalidInput


class Channel(StrEnum):
    """Where a touchpoint came from."""

    SCAN = "scan"
    BOOKING = "booking"
    ROADSIDE = "roadside"
    SERVICE_REQUEST = "service_request"
    FORUM = "forum"
    SHOP_REFERRAL = "shop_referral"
    WALK_IN = "walk_in"
    IMPORT = "import"
    CAMPAIGN = "campaign"
    MAINTENANCE = "maintenance"


CHANNELS = frozenset(Channel)


def record_touchpoint(
    session: Session,
    *,
    channel: str,
    kind: str,
    source_type: str,
    source_id: object,
    phone: str | None = None,
    customer: Customer | None = None,
    vehicle: Vehicle | None = None,
    vin: str | None = None,
    province: str | None = None,
    city: str | None = None,
    summary: str = "",
    consent_basis: str = ConsentBasis.SERVICE,
    consent_topic: str = "",
    consent_text_version: str | None = None,
    occurred_at: datetime | None = None,
) -> Touchpoint | None:
    """Record that a person (by phone or customer) showed intent through `channel`; None when nobody is reachable."""
    if channel not in CHANNELS:
        raise InvalidInput("unknown channel %(channel)s", field="channel", channel=str(channel)[:30])
    if consent_basis not in ConsentBasis.__members__.values():
        raise InvalidInput("unknown consent basis", field="consent_basis")
    if consent_basis == ConsentBasis.MARKETING and not consent_text_version:
        # The proof of a marketing opt-in is the text the person agreed to.
        raise InvalidInput("a marketing opt-in needs the consent text's version", field="consent_text_version")
    phone = phone or (customer.phone if customer is not None else None)
    if not phone:
        return None
    if vehicle is not None:
        vin = vehicle.vin
        province = province or vehicle.province
    touchpoint = Touchpoint(
        phone=phone,
        customer_id=customer.id if customer is not None else None,
        vehicle_id=vehicle.id if vehicle is not None else None,
        vin=vin,
        channel=channel,
        kind=kind[:40],
        source_type=source_type[:40],
        source_id=str(source_id)[:60],
        province=province,
        city=city,
        summary=summary[:200],
        consent_basis=consent_basis,
        consent_topic=(consent_topic or kind)[:40],
        consent_text_version=consent_text_version,
        occurred_at=occurred_at or utcnow(),
    )
    session.add(touchpoint)
    session.flush()
    return touchpoint


def select_unprocessed(limit: int = 500) -> Select:
    """Return the oldest touchpoints no reader has taken in yet."""
    return select(Touchpoint).where(Touchpoint.processed_at.is_(None)).order_by(Touchpoint.id).limit(limit)


def mark_processed(session: Session, touchpoint: Touchpoint, now: datetime) -> bool:
    """Claim a touchpoint for processing (one conditional UPDATE); tell whether this caller got it."""
    return stamp_once(session, touchpoint, "processed_at", now)
