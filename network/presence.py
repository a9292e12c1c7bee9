"""Whether a vehicle is at a shop now, for traceability's removal rule (registered by the shell)."""

from __future__ import annotations

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from network.models import AssistanceRequest, AssistanceStatus, Booking, BookingStatus, Shop


def vehicle_at_shop(session: Session, organization_id: int, vehicle_id: int) -> bool:
    """Tell whether the organization's shop has the vehicle checked in, or has accepted its roadside job."""
    shop_id = select(Shop.id).where(Shop.organization_id == organization_id).scalar_subquery()
    checked_in = exists().where(
        Booking.vehicle_id == vehicle_id, Booking.shop_id == shop_id, Booking.status == BookingStatus.CHECKED_IN
    )
    roadside = exists().where(
        AssistanceRequest.vehicle_id == vehicle_id,
        AssistanceRequest.accepted_shop_id == shop_id,
        AssistanceRequest.status == AssistanceStatus.ACCEPTED,
    )
    return bool(session.scalar(select(checked_in | roadside)))
