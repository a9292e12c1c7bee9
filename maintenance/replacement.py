"""A truck's meter replaced: a shop (with the truck checked in) or the OEM records the old meter's last value and the
new meter's first; readings after it count from the new meter, and every next-due value moves with it."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.activity import record_activity
from app.crm.models import Vehicle
from app.errors import Conflict, Forbidden, InvalidInput
from app.security import Role, User, is_oem
from maintenance.checks import look_again
from maintenance.meters import CLOCK_SLACK, MAX_VALUE, latest_reading, record_reading
from maintenance.models import MeterKind, MeterReplacement, ReadingSource, VehicleSchedule
from maintenance.schedule import ensure_schedule
from network.booking import lock_row
from network.models import Booking, BookingStatus, Shop

# Which next-due and last-done columns of a truck's schedule count on each meter.
SCHEDULE_COLUMNS = {
    MeterKind.KM: ("next_due_km", "last_done_km"),
    MeterKind.HOURS: ("next_due_hours", "last_done_hours"),
}


def may_replace_meter(session: Session, actor: User, vehicle: Vehicle) -> bool:
    """The OEM, or the staff of a shop where the truck is checked in now (the shop fitting the new meter)."""
    if is_oem(actor):
        return True
    if actor.role != Role.SHOP_STAFF or actor.organization_id is None:
        return False
    checked_in = session.scalar(
        select(Booking.id)
        .join(Shop, Shop.id == Booking.shop_id)
        .where(
            Booking.vehicle_id == vehicle.id,
            Booking.status == BookingStatus.CHECKED_IN,
            Shop.organization_id == actor.organization_id,
        )
        .limit(1)
    )
    return checked_in is not None


def _check_value(value: int | None, field: str) -> None:
    if value is None and field == "old_value":
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_VALUE:
        raise InvalidInput("a meter reading is a whole number from 0 to %(max)s", field=field, max=MAX_VALUE)


def replace_meter(
    session: Session,
    actor: User,
    vehicle: Vehicle,
    kind: str,
    new_value: int,
    replaced_at: datetime,
    *,
    old_value: int | None = None,
    now: datetime,
    max_km_per_day: int,
    zone: ZoneInfo,
) -> MeterReplacement:
    """Record that the truck's `kind` meter was replaced at `replaced_at`, reading `old_value` (default: its latest
    reading) before and `new_value` after; the plan's next-due values move by the difference."""
    if not may_replace_meter(session, actor, vehicle):
        raise Forbidden("only the OEM or a shop with the truck checked in may record a replaced meter", field="vin")
    if kind not in MeterKind.__members__.values():
        raise InvalidInput("a meter is km or hours", field="kind")
    _check_value(new_value, "new_value")
    _check_value(old_value, "old_value")
    if replaced_at > now + CLOCK_SLACK:
        raise InvalidInput("a reading cannot be in the future", field="replaced_at")
    lock_row(session, Vehicle, vehicle.id)
    latest = latest_reading(session, vehicle.id, kind)
    if latest is not None and latest.read_at >= replaced_at:
        raise InvalidInput(
            "the meter was read on %(day)s: a replacement comes after the latest reading",
            field="replaced_at",
            day=latest.read_at.date().isoformat(),
        )
    if latest is not None and latest.source == ReadingSource.METER_REPLACED:
        # A second press of the button (or two people at once) would move the plan twice for one new meter.
        raise Conflict(
            "the meter was replaced on %(day)s and has no reading since", field="replaced_at",
            day=latest.read_at.date().isoformat(),
        )  # fmt: skip
    if old_value is not None:
        # The old meter's last value is a reading of the old meter, judged like any other (never backwards).
        record_reading(
            session, actor, vehicle, kind, old_value, replaced_at - CLOCK_SLACK / 10, _source_of(actor), now=now,
            max_km_per_day=max_km_per_day, field="old_value",
        )  # fmt: skip
    else:
        old_value = latest.value if latest is not None else (vehicle.odometer_km if kind == MeterKind.KM else 0)
        old_value = old_value or 0
    ensure_schedule(session, vehicle, zone, now)  # items never reset yet get rows, so they move too
    _move_schedule(session, vehicle, kind, new_value - old_value)
    replacement = MeterReplacement(
        vehicle_id=vehicle.id, kind=kind, replaced_at=replaced_at, old_value=old_value, new_value=new_value,
        recorded_by_id=actor.id, organization_id=actor.organization_id, created_at=now,
    )  # fmt: skip
    session.add(replacement)
    session.flush()
    record_reading(
        session, actor, vehicle, kind, new_value, replaced_at, ReadingSource.METER_REPLACED, now=now,
        max_km_per_day=max_km_per_day, field="new_value",
    )  # fmt: skip
    look_again(session, vehicle.id)
    record_activity(
        session, actor, "maintenance.meter_replaced", "vehicle", vehicle.vin, kind=kind, old_value=old_value,
        new_value=new_value,
    )  # fmt: skip
    return replacement


def _source_of(actor: User) -> str:
    return ReadingSource.SHOP if actor.role == Role.SHOP_STAFF else ReadingSource.TELEMATICS


def _move_schedule(session: Session, vehicle: Vehicle, kind: str, offset: int) -> None:
    """Move every next-due and last-done value of the truck on the replaced meter by `offset`."""
    columns = SCHEDULE_COLUMNS[MeterKind(kind)]
    for row in session.scalars(select(VehicleSchedule).where(VehicleSchedule.vehicle_id == vehicle.id)):
        for column in columns:
            value = getattr(row, column)
            if value is not None:
                setattr(row, column, value + offset)
    session.flush()


def replacement_to_dict(replacement: MeterReplacement) -> dict:
    """Return a replacement as JSON."""
    return {
        "kind": replacement.kind,
        "replaced_at": replacement.replaced_at.isoformat(),
        "old_value": replacement.old_value,
        "new_value": replacement.new_value,
    }
