"""What fixed it: fixes recorded when a booking or service case closes, the network's common fixes per code,
and the OEM's early warning (codes by model and province).

The statistics a driver sees count cases and name part categories and fix kinds, never shops; they appear only
once a code has at least `MIN_CASES` recorded fixes, so a single shop's habit cannot pass for the network's.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.crm.activity import record_activity
from app.crm.models import Vehicle
from app.db import utcnow
from app.errors import Conflict, InvalidInput
from app.security import Role, User, require_member
from knowledge.codes import FaultCode
from knowledge.models import FaultFix, FixKind, VehicleFault
from network.models import Booking, BookingStatus, Shop
from traceability.models import PartType

MIN_CASES = 3
# A fix is recorded while the truck is in the shop or once the work is done.
FIXABLE_STATUSES = (BookingStatus.CHECKED_IN, BookingStatus.COMPLETED)


def record_fix(
    session: Session,
    actor: User,
    fault: VehicleFault,
    kind: str,
    case_ref: str,
    *,
    part_type: PartType | None = None,
    shop: Shop | None = None,
    booking: Booking | None = None,
    note: str = "",
) -> FaultFix:
    """Record what fixed `fault` in the case `case_ref` ("booking:12", "service:34"); the fault becomes inactive.

    The closing flow of a booking or service case calls this (service checks its own permissions first);
    recording again for the same fault and case replaces the earlier answer.
    """
    if kind not in FixKind.__members__.values():
        raise InvalidInput(f"kind is one of {', '.join(FixKind)}", field="kind")
    if (kind == FixKind.PART_REPLACED) != (part_type is not None):
        raise InvalidInput("a replaced part needs its part type, and only a replaced part", field="part_number")
    if not case_ref or len(case_ref) > 60:
        raise InvalidInput("a case reference of 1-60 characters is required", field="case_ref")
    if len(note) > 500:
        raise InvalidInput("a note has at most 500 characters", field="note")
    fix = session.scalar(select(FaultFix).where(FaultFix.vehicle_fault_id == fault.id, FaultFix.case_ref == case_ref))
    if fix is None:
        fix = FaultFix(vehicle_fault=fault, case_ref=case_ref, scheme=fault.scheme, code=fault.code, fmi=fault.fmi)
        session.add(fix)
    fix.kind = kind
    fix.part_type = part_type
    fix.shop_id = shop.id if shop else None
    fix.booking_id = booking.id if booking else None
    fix.note = note
    fix.noted_by_id = actor.id
    fault.active = False
    fault.cleared_at = fault.cleared_at or utcnow()
    session.flush()
    record_activity(
        session,
        actor,
        "knowledge.fix_recorded",
        "vehicle_fault",
        fault.id,
        case=case_ref,
        kind=kind,
        part_number=part_type.part_number if part_type else None,
    )
    return fix


def record_booking_fix(
    session: Session,
    actor: User,
    booking: Booking,
    fault: VehicleFault,
    kind: str,
    *,
    part_type: PartType | None = None,
    note: str = "",
) -> FaultFix:
    """Record, as the booked shop's staff, what fixed a fault of the booked truck."""
    require_member(actor, booking.shop.organization_id, Role.SHOP_STAFF)
    if booking.status not in FIXABLE_STATUSES:
        raise Conflict(f"a fix is recorded once the truck is in; this booking is {booking.status}", field="booking")
    if fault.vehicle_id != booking.vehicle_id:
        raise InvalidInput("the fault is not on the booked truck", field="fault_id")
    return record_fix(
        session,
        actor,
        fault,
        kind,
        f"booking:{booking.id}",
        part_type=part_type,
        shop=booking.shop,
        booking=booking,
        note=note,
    )


def _same_code(code: FaultCode):
    conditions = [FaultFix.scheme == code.scheme, FaultFix.code == code.code]
    if code.fmi is not None:
        conditions.append(FaultFix.fmi == code.fmi)
    return conditions


def common_fixes(session: Session, code: FaultCode, minimum: int = MIN_CASES) -> list[dict]:
    """Return the network's fixes for `code` with their counts, most common first; empty below `minimum` cases."""
    rows = session.execute(
        select(FaultFix.kind, PartType.category, PartType.name_zh, PartType.name_en, func.count(FaultFix.id))
        .outerjoin(PartType, PartType.id == FaultFix.part_type_id)
        .where(*_same_code(code))
        .group_by(FaultFix.kind, PartType.category, PartType.name_zh, PartType.name_en)
    ).all()
    if sum(row[4] for row in rows) < minimum:
        return []
    fixes = [
        {"kind": kind, "part_category": category, "part_name": {"zh": zh, "en": en} if zh else None, "cases": count}
        for kind, category, zh, en, count in rows
    ]
    return sorted(fixes, key=lambda fix: (-fix["cases"], fix["kind"], fix["part_category"] or ""))


def fault_trends(session: Session, since: datetime, limit: int = 200) -> list[dict]:
    """Return codes seen since `since` by vehicle model and province, with how many trucks, most trucks first."""
    trucks = func.count(func.distinct(VehicleFault.vehicle_id))
    rows = session.execute(
        select(VehicleFault.scheme, VehicleFault.code, VehicleFault.fmi, Vehicle.model, Vehicle.province, trucks)
        .join(Vehicle, Vehicle.id == VehicleFault.vehicle_id)
        .where(VehicleFault.last_seen_at >= since)
        .group_by(VehicleFault.scheme, VehicleFault.code, VehicleFault.fmi, Vehicle.model, Vehicle.province)
        .order_by(trucks.desc(), VehicleFault.scheme, VehicleFault.code, VehicleFault.fmi)
        .limit(limit)
    ).all()
    return [
        {
            "code": FaultCode(scheme, code, fmi).short,
            "label": FaultCode(scheme, code, fmi).label,
            "model": model,
            "province": province,
            "trucks": count,
        }
        for scheme, code, fmi, model, province, count in rows
    ]
