"""What a truck has due: next-due values are stored (clock-stable), the status is computed on every read.

An item falls due at its next-due km, engine hours or date: whichever comes first (rule `first`) or only once
all have come (rule `later`). Before the first service the plan's first-service values (首保) apply; after a
service the intervals count from what the service actually read, not from the old due values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import local_date
from app.crm.activity import record_activity
from app.crm.customers import is_own_customer
from app.crm.models import Vehicle
from app.errors import Forbidden, InvalidInput
from app.security import Role, User, is_oem
from maintenance.checks import look_again
from maintenance.meters import current_meter
from maintenance.models import DutyCycle, MeterKind, PlanItem, Rule, Status, VehiclePlan, VehicleSchedule
from maintenance.plans import add_months, match_plan, plan_of_vehicle

RANK = {Status.OK: 0, Status.DUE_SOON: 1, Status.OVERDUE: 2}


@dataclass(frozen=True)
class Due:
    """One item of a truck's plan as of a day: its next-due values, what is left, and the status."""

    item: PlanItem
    status: str
    next_due_km: int | None
    next_due_hours: int | None
    next_due_on: date | None
    km_left: int | None
    hours_left: int | None
    days_left: int | None
    last_done_km: int | None = None
    last_done_on: date | None = None
    genuine_parts: bool | None = None

    @property
    def occurrence(self) -> str:
        """Name this due occurrence: it changes when a service resets the item."""
        return f"{self.next_due_km}|{self.next_due_hours}|{self.next_due_on}"


def _start_day(vehicle: Vehicle, zone: ZoneInfo) -> date:
    return vehicle.sale_date or local_date(vehicle.created_at, zone)


def initial_due(item: PlanItem, vehicle: Vehicle, zone: ZoneInfo) -> tuple[int | None, int | None, date | None]:
    """Return an item's first due values: the first service if the plan has one, else the first interval."""
    km = item.first_at_km if item.first_at_km is not None else item.every_km
    hours = item.first_at_hours if item.first_at_hours is not None else item.every_hours
    months = item.first_at_months if item.first_at_months is not None else item.every_months
    return km, hours, add_months(_start_day(vehicle, zone), months) if months else None


def due_after_service(
    item: PlanItem, done_km: int | None, done_hours: int | None, done_on: date
) -> tuple[int | None, int | None, date | None]:
    """Return the next due values counted from what a service actually read (LubeLogger #439: not the old due)."""
    km = done_km + item.every_km if item.every_km and done_km is not None else None
    hours = done_hours + item.every_hours if item.every_hours and done_hours is not None else None
    return km, hours, add_months(done_on, item.every_months) if item.every_months else None


def _level(left: int, soon: int | None) -> str:
    if left <= 0:
        return Status.OVERDUE
    if soon is not None and left <= soon:
        return Status.DUE_SOON
    return Status.OK


def judge(
    item: PlanItem,
    due: tuple[int | None, int | None, date | None],
    km: int | None,
    hours: int | None,
    today: date,
) -> Due:
    """Compute an item's status from its next-due values and the meters of `today` (never stored)."""
    due_km, due_hours, due_on = due
    km_left = due_km - km if due_km is not None and km is not None else None
    hours_left = due_hours - hours if due_hours is not None and hours is not None else None
    days_left = (due_on - today).days if due_on is not None else None
    legs = [
        _level(left, soon)
        for left, soon in ((km_left, item.soon_km), (hours_left, item.soon_hours), (days_left, item.soon_days))
        if left is not None
    ]
    if not legs:
        status = Status.OK
    elif item.rule == Rule.LATER:
        status = min(legs, key=RANK.__getitem__)
    else:
        status = max(legs, key=RANK.__getitem__)
    return Due(item, status, due_km, due_hours, due_on, km_left, hours_left, days_left)


def list_due(session: Session, vehicle: Vehicle, today: date, zone: ZoneInfo) -> list[Due]:
    """Return every item of the vehicle's plan with its status on `today`, worst first (reads only)."""
    plan = plan_of_vehicle(session, vehicle)
    if plan is None:
        return []
    stored = {
        row.plan_item_id: row
        for row in session.scalars(select(VehicleSchedule).where(VehicleSchedule.vehicle_id == vehicle.id))
    }
    km, hours = current_meter(session, vehicle, MeterKind.KM), current_meter(session, vehicle, MeterKind.HOURS)
    result = []
    for item in plan.items:
        row = stored.get(item.id)
        if row is None:
            result.append(judge(item, initial_due(item, vehicle, zone), km, hours, today))
            continue
        judged = judge(item, (row.next_due_km, row.next_due_hours, row.next_due_on), km, hours, today)
        result.append(
            Due(
                **{
                    **judged.__dict__,
                    "last_done_km": row.last_done_km,
                    "last_done_on": row.last_done_on,
                    "genuine_parts": row.genuine_parts,
                }
            )
        )
    return sorted(result, key=lambda due: (-RANK[due.status], due.item.position))


def ensure_schedule(session: Session, vehicle: Vehicle, zone: ZoneInfo, now: datetime) -> VehiclePlan | None:
    """Put the vehicle on its plan (the version it starts on) with the first due values; None without a plan."""
    assigned = session.get(VehiclePlan, vehicle.id)
    if assigned is not None:
        return assigned
    plan = plan_of_vehicle(session, vehicle)
    if plan is None:
        return None
    assigned = VehiclePlan(vehicle_id=vehicle.id, plan_id=plan.id, duty_cycle=plan.duty_cycle, assigned_at=now)
    session.add(assigned)
    for item in plan.items:
        km, hours, on = initial_due(item, vehicle, zone)
        session.add(
            VehicleSchedule(
                vehicle_id=vehicle.id, plan_item_id=item.id, next_due_km=km, next_due_hours=hours, next_due_on=on
            )
        )
    session.flush()
    look_again(session, vehicle.id)
    return assigned


def reset_item(
    session: Session,
    vehicle: Vehicle,
    item: PlanItem,
    *,
    done_km: int | None,
    done_hours: int | None,
    done_on: date,
    source: str,
    service_record_id: int | None = None,
    genuine_parts: bool | None = None,
) -> VehicleSchedule:
    """Record that an item was done and set its next due values from the service's own readings."""
    row = session.get(VehicleSchedule, (vehicle.id, item.id))
    if row is None:
        row = VehicleSchedule(vehicle_id=vehicle.id, plan_item_id=item.id)
        session.add(row)
    row.last_done_km, row.last_done_hours, row.last_done_on = done_km, done_hours, done_on
    row.next_due_km, row.next_due_hours, row.next_due_on = due_after_service(item, done_km, done_hours, done_on)
    row.reset_source, row.service_record_id, row.genuine_parts = source, service_record_id, genuine_parts
    session.flush()
    look_again(session, vehicle.id)
    return row


def due_to_dict(due: Due) -> dict:
    """Return an item's due state as JSON."""
    return {
        "service_code": due.item.service_code,
        "label_zh": due.item.label_zh,
        "label_en": due.item.label_en,
        "shop_service": due.item.shop_service,
        "status": due.status,
        "next_due_km": due.next_due_km,
        "next_due_hours": due.next_due_hours,
        "next_due_on": due.next_due_on.isoformat() if due.next_due_on else None,
        "km_left": due.km_left,
        "hours_left": due.hours_left,
        "days_left": due.days_left,
        "last_done_km": due.last_done_km,
        "last_done_on": due.last_done_on.isoformat() if due.last_done_on else None,
        "genuine_parts": due.genuine_parts,
    }


def set_duty_cycle(
    session: Session, actor: User, vehicle: Vehicle, duty_cycle: str, zone: ZoneInfo, now: datetime
) -> VehiclePlan:
    """Move the truck to the plan of its model for `duty_cycle` (its driver or the OEM): items the plans share keep
    their last service, counted with the new intervals; new items start from the new plan's first service."""
    if not (is_oem(actor) or (actor.role == Role.DRIVER and is_own_customer(actor, vehicle.owner))):
        raise Forbidden("only the truck's driver or the OEM may change its duty cycle")
    if duty_cycle not in DutyCycle.__members__.values():
        raise InvalidInput("duty cycle is long_haul, regional or severe", field="duty_cycle")
    plan = match_plan(session, vehicle.model, duty_cycle)
    if plan is None:
        raise InvalidInput("no plan covers this truck model in that duty cycle", field="duty_cycle")
    assigned = session.get(VehiclePlan, vehicle.id)
    if assigned is None:
        assigned = VehiclePlan(vehicle_id=vehicle.id, plan_id=plan.id, duty_cycle=duty_cycle, assigned_at=now)
        session.add(assigned)
    elif assigned.plan_id == plan.id:
        return assigned
    stored = session.scalars(select(VehicleSchedule).where(VehicleSchedule.vehicle_id == vehicle.id)).all()
    done = {row.item.service_code: row for row in stored if row.last_done_on is not None}
    for row in stored:
        session.delete(row)
    session.flush()
    for item in plan.items:
        last = done.get(item.service_code)
        row = VehicleSchedule(vehicle_id=vehicle.id, plan_item_id=item.id)
        if last is None:
            row.next_due_km, row.next_due_hours, row.next_due_on = initial_due(item, vehicle, zone)
        else:
            row.last_done_km, row.last_done_hours, row.last_done_on = (
                last.last_done_km,
                last.last_done_hours,
                last.last_done_on,
            )
            row.next_due_km, row.next_due_hours, row.next_due_on = due_after_service(
                item, last.last_done_km, last.last_done_hours, last.last_done_on
            )
            row.reset_source, row.service_record_id, row.genuine_parts = (
                last.reset_source,
                last.service_record_id,
                last.genuine_parts,
            )
        session.add(row)
    assigned.plan_id, assigned.duty_cycle, assigned.assigned_at = plan.id, duty_cycle, now
    session.flush()
    look_again(session, vehicle.id)
    record_activity(
        session, actor, "maintenance.duty_cycle_set", "vehicle", vehicle.vin, duty_cycle=duty_cycle, plan=plan.code
    )
    return assigned
