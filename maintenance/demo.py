"""Demo data: the OEM's plans for the demo's HOWO and SITRAK models, and trucks on them that are due soon, overdue
and fine (the demo driver's 豫A12345 is due soon for its oil change), with the reminders already sent."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.clock import local_date
from app.config import load_settings
from app.crm.models import Vehicle
from app.db import checkpoint_of, utcnow
from app.security import Role, User
from maintenance.models import MeterKind, MeterReading, ReadingSource, Status, VehiclePlan, VehicleSchedule
from maintenance.plans import add_months, match_plan, publish_plan
from maintenance.reminders import send_reminders
from maintenance.schedule import due_after_service
from maintenance.settings import maintenance_settings
from traceability.models import PartType

DEMO_PLATE = "豫A12345"
# (service code, zh, en, every km, every hours, every months, first km, first months, soon km, soon days, part)
ITEMS = (
    ("engine_oil", "机油及机滤", "Engine oil and filter", 30000, None, 6, 5000, 3, 2000, 14, "VG1540080311"),
    ("fuel_filter", "柴油滤清器", "Fuel filter", 60000, None, 12, None, None, 3000, 21, "VG1560080012"),
    ("air_filter", "空气滤清器", "Air filter", 60000, None, 12, None, None, 3000, 21, "WG9725190102"),
    ("gearbox_oil", "变速箱油", "Gearbox oil", 120000, None, 24, 10000, 6, 5000, 30, None),
    ("dpf_clean", "DPF 清灰", "DPF cleaning", None, 1500, None, None, None, None, None, None),
)
PLANS = (
    ("HOWO-LH", "豪沃", "豪沃干线物流保养计划", "HOWO long-haul maintenance", 1.0),
    ("SITRAK-LH", "汕德卡", "汕德卡干线物流保养计划", "SITRAK long-haul maintenance", 1.2),
)


def _publish(session: Session, oem: User) -> int:
    parts = {part.part_number: part.id for part in session.scalars(select(PartType))}
    now = utcnow()
    for code, prefix, name_zh, name_en, stretch in PLANS:
        items = [
            {
                "service_code": service, "label_zh": zh, "label_en": en, "every_km": int(km * stretch) if km else None,
                "every_hours": hours, "every_months": months, "first_at_km": first_km, "first_at_months": first_months,
                "soon_km": soon_km, "soon_hours": 50 if hours else None, "soon_days": soon_days,
                "part_type_ids": [parts[part]] if part in parts else [], "warranty_relevant": service == "engine_oil",
            }
            for service, zh, en, km, hours, months, first_km, first_months, soon_km, soon_days, part in ITEMS
        ]  # fmt: skip
        publish_plan(
            session, oem, code=code, model_prefix=prefix, duty_cycle="long_haul", name_zh=name_zh, name_en=name_en,
            items=items, now=now,
        )  # fmt: skip
    return len(PLANS)


def _place(rng: random.Random, vehicle: Vehicle, wanted: str, session: Session, zone, now) -> None:
    """Put a truck on its plan with a service history that leaves its oil change `wanted` (due soon, overdue, ok)."""
    plan = match_plan(session, vehicle.model)
    if plan is None:
        return
    today = local_date(now, zone)
    odometer = vehicle.odometer_km or 0
    session.add(VehiclePlan(vehicle_id=vehicle.id, plan_id=plan.id, duty_cycle=plan.duty_cycle, assigned_at=now))
    session.add(MeterReading(
        vehicle_id=vehicle.id, kind=MeterKind.KM, value=odometer, read_at=now - timedelta(hours=rng.randrange(1, 48)),
        source=ReadingSource.TELEMATICS, created_at=now,
    ))  # fmt: skip
    for item in plan.items:
        if item.every_km is None:
            continue  # engine-hours items wait for the first hours reading
        if item.service_code == "engine_oil":
            left = {Status.DUE_SOON: rng.randrange(300, 1800), Status.OVERDUE: -rng.randrange(200, 6000)}.get(
                wanted, rng.randrange(4000, item.every_km - 2000)
            )
        else:
            left = rng.randrange(item.every_km // 4, item.every_km)
        done_km = max(odometer + left - item.every_km, 0)
        if item.service_code == "engine_oil" and wanted == Status.OVERDUE:
            done_on = today - timedelta(days=120)
        else:
            done_on = add_months(today, -((item.every_months or 12) // 2))
        due_km, due_hours, due_on = due_after_service(item, done_km, None, done_on)
        session.add(VehicleSchedule(
            vehicle_id=vehicle.id, plan_item_id=item.id, last_done_km=done_km, last_done_on=done_on,
            next_due_km=due_km, next_due_hours=due_hours, next_due_on=due_on, reset_source="initial",
            genuine_parts=True if item.part_type_ids and rng.random() < 0.7 else None,
        ))  # fmt: skip


def seed(session: Session, rng: random.Random, size: str, track: Callable[[Iterable, str], Iterable]) -> list[str]:
    """Publish the demo plans and put every demo truck on one: some due soon, some overdue, most fine."""
    oem = session.scalar(select(User).where(User.role == Role.OEM_ADMIN).order_by(User.id))
    if oem is None:
        return ["Maintenance: no OEM yet; maintenance demo skipped"]
    settings = maintenance_settings(load_settings())
    now = utcnow()
    _publish(session, oem)
    shares = {Status.OK: 6, Status.DUE_SOON: 2, Status.OVERDUE: 2}
    vehicles = list(session.scalars(select(Vehicle).order_by(Vehicle.id)))
    for vehicle in track(vehicles, "Maintenance schedules"):
        wanted = Status.DUE_SOON if vehicle.plate == DEMO_PLATE else rng.choices(list(shares), list(shares.values()))[0]
        _place(rng, vehicle, wanted, session, settings.zone, now)
    session.flush()
    # The first round meets every truck: where the build commits as it goes (the worker's, whose `track` has a
    # `commit`), it commits every reminders.CHUNK trucks; in one transaction it held SQLite's lock for 80 s at load 9.
    sent = send_reminders(session, settings, now, checkpoint_of(track))
    return [
        f"Maintenance: {len(PLANS)} plans, {sent['vehicles']} trucks on them; reminders sent: {sent[Status.DUE_SOON]} "
        f"due soon, {sent[Status.OVERDUE]} past due (the driver's {DEMO_PLATE} is due soon)"
    ]
