"""A shop's booking as a service: the meters read at check-in and completion, and the reset of the items due,
with the genuine parts the shop fitted during the booking recorded as evidence (traceability installations)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import local_date
from app.crm.activity import record_activity
from app.security import User
from maintenance.meters import MAX_KM_PER_DAY, current_meter, record_reading
from maintenance.models import MeterKind, MeterReading, ReadingSource, ServiceRecord, Status
from maintenance.schedule import ensure_schedule, list_due, reset_item
from network.models import Booking
from network.settings import NetworkSettings
from traceability.models import Installation, Part

READING_FIELDS = {"odometer_km": MeterKind.KM, "engine_hours": MeterKind.HOURS}
# Parts are often scanned on at the counter just before the truck is formally checked in.
INSTALL_WINDOW_BEFORE = timedelta(hours=2)


def _booking_meter(session: Session, booking: Booking, kind: str) -> int | None:
    """Return the meter the shop read during this booking (its last reading), else the truck's latest."""
    value = session.scalar(
        select(MeterReading.value)
        .where(MeterReading.booking_id == booking.id, MeterReading.kind == kind)
        .order_by(MeterReading.read_at.desc(), MeterReading.id.desc())
        .limit(1)
    )
    return value if value is not None else current_meter(session, booking.vehicle, kind)


def installations_during(session: Session, booking: Booking, until: datetime) -> list[tuple[Installation, Part]]:
    """Return the parts the booking's shop installed on its truck between the booking's start and `until`."""
    since = min(booking.start, booking.checked_in_at or booking.start) - INSTALL_WINDOW_BEFORE
    rows = session.execute(
        select(Installation, Part)
        .join(Part, Part.id == Installation.part_id)
        .where(
            Installation.vehicle_id == booking.vehicle_id,
            Installation.organization_id == booking.shop.organization_id,
            Installation.installed_at >= since,
            Installation.installed_at <= until,
        )
        .order_by(Installation.installed_at)
    )
    return [(installation, part) for installation, part in rows]


def record_booking_service(
    session: Session,
    actor: User,
    booking: Booking,
    action: str,
    readings: Mapping[str, int],
    settings: NetworkSettings,
    now: datetime,
) -> ServiceRecord | None:
    """Record the shop's meters at check-in or completion; on completion reset the items due that the booking's
    service covers, from the booking's own odometer and date, with the genuine parts fitted as evidence."""
    if action not in ("check-in", "complete"):
        return None
    for field, kind in READING_FIELDS.items():
        if readings.get(field) is not None:
            record_reading(
                session, actor, booking.vehicle, kind, readings[field], now, ReadingSource.SHOP, now=now,
                max_km_per_day=MAX_KM_PER_DAY, booking=booking, field=field,
            )  # fmt: skip
    if action != "complete" or ensure_schedule(session, booking.vehicle, settings.zone, now) is None:
        return None
    today = local_date(now, settings.zone)
    covered = [
        due
        for due in list_due(session, booking.vehicle, today, settings.zone)
        if due.item.shop_service == booking.service and due.status != Status.OK
    ]
    if not covered:
        return None
    fitted = installations_during(session, booking, now)
    done_km, done_hours = (
        _booking_meter(session, booking, MeterKind.KM),
        _booking_meter(session, booking, MeterKind.HOURS),
    )
    record = ServiceRecord(
        vehicle_id=booking.vehicle_id,
        booking_id=booking.id,
        organization_id=booking.shop.organization_id,
        done_at=now,
        odometer_km=done_km,
        engine_hours=done_hours,
        service_codes=[due.item.service_code for due in covered],
        installation_ids=[installation.id for installation, _part in fitted],
        recorded_by_id=actor.id,
    )
    session.add(record)
    session.flush()
    fitted_types = {part.part_type_id for _installation, part in fitted}
    for due in covered:
        wanted = set(due.item.part_type_ids or [])
        genuine = bool(wanted & fitted_types) if wanted else None
        reset_item(
            session, booking.vehicle, due.item, done_km=done_km, done_hours=done_hours, done_on=today,
            source="booking", service_record_id=record.id, genuine_parts=genuine,
        )  # fmt: skip
    record_activity(
        session, actor, "maintenance.service_recorded", "vehicle", booking.vehicle.vin, booking=booking.id,
        items=record.service_codes, odometer_km=done_km, installations=record.installation_ids,
        organization_id=booking.shop.organization_id,
    )  # fmt: skip
    return record
