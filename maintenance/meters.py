"""Meter readings (odometer km, engine hours): recorded from drivers, shops and telematics, never backwards."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.activity import record_activity
from app.crm.models import Vehicle
from app.errors import InvalidInput
from app.security import User
from maintenance.checks import look_again
from maintenance.models import MeterKind, MeterReading, MeterReplacement
from network.booking import lock_row
from network.models import Booking

MAX_VALUE = 10_000_000
# A clock a few minutes fast on a phone or a gateway is not a reading from the future.
CLOCK_SLACK = timedelta(minutes=10)
# More than a truck can drive in a day (two drivers, 24 hours): such a reading is kept but flagged.
MAX_KM_PER_DAY = 1500
FIELD_OF = {MeterKind.KM: "odometer_km", MeterKind.HOURS: "engine_hours"}


def latest_reading(
    session: Session, vehicle_id: int, kind: str, before: datetime | None = None, since: datetime | None = None
) -> MeterReading | None:
    """Return the vehicle's latest reading of `kind` (at or before `before`, at or after `since`, when given)."""
    statement = select(MeterReading).where(MeterReading.vehicle_id == vehicle_id, MeterReading.kind == kind)
    if before is not None:
        statement = statement.where(MeterReading.read_at <= before)
    if since is not None:
        statement = statement.where(MeterReading.read_at >= since)
    return session.scalar(statement.order_by(MeterReading.read_at.desc(), MeterReading.id.desc()).limit(1))


def _first_after(
    session: Session, vehicle_id: int, kind: str, moment: datetime, until: datetime | None
) -> MeterReading | None:
    statement = select(MeterReading).where(
        MeterReading.vehicle_id == vehicle_id, MeterReading.kind == kind, MeterReading.read_at > moment
    )
    if until is not None:
        statement = statement.where(MeterReading.read_at < until)
    return session.scalar(statement.order_by(MeterReading.value).limit(1))


def meter_span(
    session: Session, vehicle_id: int, kind: str, moment: datetime
) -> tuple[datetime | None, datetime | None]:
    """Return when the meter that was fitted at `moment` was fitted and replaced (None: the first one, still fitted).

    A replaced meter (a new instrument cluster) starts again from its own value: readings are judged only against
    readings of the same meter."""
    replacements = select(MeterReplacement.replaced_at).where(
        MeterReplacement.vehicle_id == vehicle_id, MeterReplacement.kind == kind
    )
    at_or_before = replacements.where(MeterReplacement.replaced_at <= moment)
    fitted = session.scalar(at_or_before.order_by(MeterReplacement.replaced_at.desc()).limit(1))
    replaced = session.scalar(
        replacements.where(MeterReplacement.replaced_at > moment).order_by(MeterReplacement.replaced_at).limit(1)
    )
    return fitted, replaced


def current_meter(session: Session, vehicle: Vehicle, kind: str) -> int | None:
    """Return the vehicle's meter now: its latest reading, else (km) the odometer on its record."""
    latest = latest_reading(session, vehicle.id, kind)
    if latest is not None:
        return latest.value
    return vehicle.odometer_km if kind == MeterKind.KM else None


def record_reading(
    session: Session,
    actor: User | None,
    vehicle: Vehicle,
    kind: str,
    value: int,
    read_at: datetime,
    source: str,
    *,
    now: datetime,
    max_km_per_day: int,
    booking: Booking | None = None,
    field: str | None = None,
) -> MeterReading:
    """Record one reading; refuse one below an earlier reading or above a later one (400 naming `field`)."""
    if kind not in MeterKind.__members__.values():
        raise InvalidInput("a meter is km or hours", field="kind")
    field = field or FIELD_OF[MeterKind(kind)]
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_VALUE:
        raise InvalidInput("a meter reading is a whole number from 0 to %(max)s", field=field, max=MAX_VALUE)
    if read_at > now + CLOCK_SLACK:
        raise InvalidInput("a reading cannot be in the future", field="read_at")
    # Two readings of one truck take turns (the vehicle's row lock, PostgreSQL), so each one's check sees the other.
    lock_row(session, Vehicle, vehicle.id)
    fitted, replaced = meter_span(session, vehicle.id, kind, read_at)
    before = latest_reading(session, vehicle.id, kind, read_at, since=fitted)
    if before is not None and value < before.value:
        raise InvalidInput(
            "%(value)s is below the reading of %(previous)s on %(day)s: meters never go backwards",
            field=field,
            value=value,
            previous=before.value,
            day=before.read_at.date().isoformat(),
        )
    after = _first_after(session, vehicle.id, kind, read_at, replaced)
    if after is not None and value > after.value:
        raise InvalidInput(
            "%(value)s is above the later reading of %(previous)s on %(day)s: meters never go backwards",
            field=field,
            value=value,
            previous=after.value,
            day=after.read_at.date().isoformat(),
        )
    flagged = False
    if kind == MeterKind.KM and before is not None:
        days = max((read_at - before.read_at).total_seconds() / 86400, 1.0)
        flagged = (value - before.value) / days > max_km_per_day
    reading = MeterReading(
        vehicle_id=vehicle.id,
        kind=kind,
        value=value,
        read_at=read_at,
        source=source,
        booking_id=booking.id if booking is not None else None,
        recorded_by_id=actor.id if actor is not None else None,
        flagged=flagged,
        created_at=now,
    )
    session.add(reading)
    if kind == MeterKind.KM and after is None and replaced is None:
        vehicle.odometer_km = value  # the record's odometer is the latest reading (kept for compatibility)
    session.flush()
    look_again(session, vehicle.id)
    record_activity(
        session, actor, "maintenance.meter_recorded", "vehicle", vehicle.vin, kind=kind, value=value, source=source,
        flagged=flagged,
    )  # fmt: skip
    return reading


def reading_to_dict(reading: MeterReading) -> dict:
    """Return a reading as JSON."""
    return {
        "kind": reading.kind,
        "value": reading.value,
        "read_at": reading.read_at.isoformat(),
        "source": reading.source,
        "booking": reading.booking_id,
        "flagged": reading.flagged,
    }
