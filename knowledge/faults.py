"""Faults per vehicle: reported by the driver, by the shop at check-in, or by a telematics platform.

Every report of the same code on the same vehicle (scheme, code, FMI, ECU) lands on one row: the first report
creates it, later ones bump `reports` and `last_seen_at` and make it active again. A telematics snapshot (the full
list of active codes an ECU sends in DM1) makes the vehicle's other codes from that ECU inactive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.crm.activity import record_activity
from app.crm.customers import is_own_customer
from app.crm.models import Vehicle
from app.db import utcnow
from app.errors import Conflict, Forbidden, InvalidInput
from app.security import Role, User, is_oem, require_member, require_role
from knowledge.codes import FaultCode
from knowledge.models import FaultSource, VehicleFault
from network.models import Booking, BookingStatus

MAX_CODES_PER_REPORT = 64
# A telematics code not reported again for this long is no longer active.
# Stale faults made inactive per transaction (the job commits after each chunk).
EXPIRE_CHUNK = 1000
STALE_AFTER = timedelta(days=7)
# A shop enters the codes it reads when the truck arrives: on a confirmed booking at the counter, or after check-in.
CHECK_IN_STATUSES = (BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN)


def fault_key(code: FaultCode) -> str:
    """Return what deduplicates reports of one fault on one vehicle."""
    parts = (code.scheme, code.code, code.fmi, code.source_address)
    return "|".join("*" if part is None else str(part) for part in parts)


def record_fault(
    session: Session,
    actor: User | None,
    vehicle: Vehicle,
    code: FaultCode,
    source: str,
    *,
    lamps: dict | None = None,
    booking: Booking | None = None,
    seen_at: datetime | None = None,
) -> VehicleFault:
    """Record one report of `code` on `vehicle` (permission checks are the callers': the record_*_faults below)."""
    if source not in FaultSource.__members__.values():
        raise InvalidInput(f"source is one of {', '.join(FaultSource)}", field="source")
    now = seen_at or utcnow()
    key = fault_key(code)
    fault = session.scalar(
        select(VehicleFault).where(VehicleFault.vehicle_id == vehicle.id, VehicleFault.fault_key == key)
    )
    if fault is None:
        # Two reports racing here collide on the unique (vehicle, key): the request is re-run and updates instead.
        fault = VehicleFault(
            vehicle_id=vehicle.id,
            fault_key=key,
            scheme=code.scheme,
            code=code.code,
            fmi=code.fmi,
            source_address=code.source_address,
            occurrence_count=code.occurrence,
            reports=1,
            lamps=lamps,
            active=True,
            first_source=source,
            last_source=source,
            reported_by_id=actor.id if actor else None,
            shop_id=booking.shop_id if booking else None,
            booking_id=booking.id if booking else None,
            first_seen_at=now,
            last_seen_at=now,
        )
        session.add(fault)
    else:
        fault.reports += 1
        fault.last_seen_at = max(fault.last_seen_at, now)
        fault.last_source = source
        fault.active = True
        fault.cleared_at = None
        if code.occurrence is not None:
            fault.occurrence_count = code.occurrence
        if lamps is not None:
            fault.lamps = lamps
        if booking is not None:
            fault.shop_id, fault.booking_id = booking.shop_id, booking.id
    session.flush()
    return fault


def _check_count(codes: list[FaultCode]) -> None:
    if not codes:
        raise InvalidInput("give at least one fault code", field="codes")
    if len(codes) > MAX_CODES_PER_REPORT:
        raise InvalidInput(f"at most {MAX_CODES_PER_REPORT} codes per report", field="codes")


def record_driver_fault(session: Session, actor: User, vehicle: Vehicle, code: FaultCode) -> VehicleFault:
    """Record a code a driver read off the dashboard of one of their own trucks."""
    require_role(actor, Role.DRIVER)
    if not is_own_customer(actor, vehicle.owner):
        raise Forbidden("drivers record faults on their own trucks only", field="vin")
    fault = record_fault(session, actor, vehicle, code, FaultSource.DRIVER)
    record_activity(session, actor, "knowledge.fault_entered", "vehicle", vehicle.vin, code=code.short)
    return fault


def record_check_in_faults(
    session: Session, actor: User, booking: Booking, codes: Iterable[FaultCode]
) -> list[VehicleFault]:
    """Record the codes a shop reads from the truck booked with it, when the truck arrives."""
    require_member(actor, booking.shop.organization_id, Role.SHOP_STAFF)
    if booking.status not in CHECK_IN_STATUSES:
        raise Conflict(f"faults are entered at check-in; this booking is {booking.status}", field="booking")
    codes = list(codes)
    _check_count(codes)
    recorded = [
        record_fault(session, actor, booking.vehicle, code, FaultSource.SHOP, booking=booking) for code in codes
    ]
    record_activity(
        session,
        actor,
        "knowledge.faults_entered_at_check_in",
        "booking",
        booking.id,
        vin=booking.vehicle.vin,
        codes=[code.short for code in codes],
    )
    return recorded


def list_workshop_bookings(session: Session, shop_id: int, now: datetime, limit: int = 50) -> list[Booking]:
    """Return the shop's bookings whose codes and fixes it may enter: arriving or in, or completed this week."""
    statement = (
        select(Booking)
        .where(Booking.shop_id == shop_id)
        .where(
            Booking.status.in_(CHECK_IN_STATUSES)
            | ((Booking.status == BookingStatus.COMPLETED) & (Booking.completed_at >= now - timedelta(days=7)))
        )
        .order_by(Booking.start.desc(), Booking.id.desc())
        .limit(limit)
    )
    return list(session.scalars(statement))


def expire_stale_faults(
    session: Session,
    now: datetime,
    after: timedelta = STALE_AFTER,
    checkpoint: Callable[[], None] = lambda: None,
) -> int:
    """Make telematics faults not reported for `after` inactive; return how many.

    A platform sends an ECU's active codes again and again, so silence means the code went away (a truck
    without a platform keeps the driver's and shop's entries until a fix or a snapshot clears them).

    EXPIRE_CHUNK faults at a time (one conditional UPDATE of their ids, and an activity entry with their count), with a
    `checkpoint` (the job commits) after each: SQLite's one writer is never held long. A run stopped in between
    leaves the chunks it did, and the next run finds the rest still matching.
    """
    total = 0
    stale = (
        VehicleFault.active.is_(True),
        VehicleFault.last_source == FaultSource.TELEMATICS,
        VehicleFault.last_seen_at < now - after,
    )
    while True:
        ids = session.scalars(select(VehicleFault.id).where(*stale).order_by(VehicleFault.id).limit(EXPIRE_CHUNK)).all()
        if not ids:
            return total
        result = session.execute(
            update(VehicleFault)
            .where(VehicleFault.id.in_(ids), *stale)
            .values(active=False, cleared_at=now)
            .execution_options(synchronize_session=False)
        )
        count = result.rowcount or 0
        total += count
        if count:
            record_activity(
                session, None, "knowledge.stale_faults_expired", "vehicle_faults", "telematics", count=count
            )
        checkpoint()
        if len(ids) < EXPIRE_CHUNK:
            return total


def may_report_telematics(actor: User, vehicle: Vehicle) -> bool:
    """Tell whether a platform's account may report for `vehicle`: the OEM's (every truck), or its fleet's."""
    if is_oem(actor):
        return True
    return actor.role != Role.DRIVER and vehicle.fleet_id is not None and actor.organization_id == vehicle.fleet_id


def record_telematics_report(
    session: Session,
    actor: User,
    vehicle: Vehicle,
    codes: list[FaultCode],
    *,
    lamps: dict | None = None,
    snapshot: bool = False,
    source_address: int | None = None,
    seen_at: datetime | None = None,
) -> tuple[list[VehicleFault], list[VehicleFault]]:
    """Record a platform's report; with `snapshot`, codes of the same ECU not in it become inactive.

    Return (reported, made inactive). An empty snapshot means the ECU has no active codes.
    """
    if not may_report_telematics(actor, vehicle):
        # 404 rather than 403 would hide the VIN, but platforms post VINs they already know.
        raise Forbidden("this account may not report faults for this vehicle", field="vin")
    if not snapshot:
        _check_count(codes)
    if len(codes) > MAX_CODES_PER_REPORT:
        raise InvalidInput(f"at most {MAX_CODES_PER_REPORT} codes per report", field="codes")
    if seen_at is not None and seen_at > utcnow():
        raise InvalidInput("the report cannot be from the future", field="observed_at")
    reported = [
        record_fault(session, actor, vehicle, code, FaultSource.TELEMATICS, lamps=lamps, seen_at=seen_at)
        for code in codes
    ]
    cleared = []
    if snapshot:
        keep = {fault.id for fault in reported}
        statement = select(VehicleFault).where(VehicleFault.vehicle_id == vehicle.id, VehicleFault.active.is_(True))
        statement = statement.where(
            VehicleFault.source_address.is_(None)
            if source_address is None
            else VehicleFault.source_address == source_address
        )
        for fault in session.scalars(statement):
            if fault.id not in keep:
                fault.active = False
                fault.cleared_at = seen_at or utcnow()
                cleared.append(fault)
        session.flush()
    # One entry per report, not per code: platforms report often, and the faults themselves keep the detail.
    record_activity(
        session,
        actor,
        "knowledge.telematics_report",
        "vehicle",
        vehicle.vin,
        reported=[fault.id for fault in reported],
        made_inactive=[fault.id for fault in cleared],
    )
    return reported, cleared


def may_see_faults(actor: User | None, vehicle: Vehicle) -> bool:
    """Tell whether `actor` may read the vehicle's fault history: its driver, its fleet, the OEM."""
    if actor is None:
        return False
    if actor.role == Role.DRIVER:
        return is_own_customer(actor, vehicle.owner)
    return is_oem(actor) or (vehicle.fleet_id is not None and actor.organization_id == vehicle.fleet_id)


def list_vehicle_faults(session: Session, vehicle: Vehicle, active_only: bool = False) -> list[VehicleFault]:
    """Return a vehicle's faults, active ones first, most recently seen first."""
    statement = select(VehicleFault).where(VehicleFault.vehicle_id == vehicle.id)
    if active_only:
        statement = statement.where(VehicleFault.active.is_(True))
    return list(
        session.scalars(
            statement.order_by(VehicleFault.active.desc(), VehicleFault.last_seen_at.desc(), VehicleFault.id)
        )
    )


def fault_code_of(fault: VehicleFault) -> FaultCode:
    """Return the code a stored fault is about."""
    return FaultCode(fault.scheme, fault.code, fault.fmi, fault.occurrence_count, fault.source_address)


def fault_to_dict(fault: VehicleFault) -> dict:
    """Render a vehicle fault."""
    code = fault_code_of(fault)
    return {
        "id": fault.id,
        "code": code.short,
        "label": code.label,
        "scheme": code.scheme,
        "source_address": fault.source_address,
        "occurrence_count": fault.occurrence_count,
        "reports": fault.reports,
        "active": fault.active,
        "lamps": fault.lamps,
        "first_source": fault.first_source,
        "last_source": fault.last_source,
        "first_seen_at": fault.first_seen_at.isoformat(),
        "last_seen_at": fault.last_seen_at.isoformat(),
        "cleared_at": fault.cleared_at.isoformat() if fault.cleared_at else None,
    }
