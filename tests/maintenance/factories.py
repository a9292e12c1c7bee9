"""Maintenance test data: a plan with one item (the research file's E.5 oil change unless overridden) and readings."""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.crm.models import Vehicle
from app.db import utcnow
from app.security import Role, User
from maintenance.meters import MAX_KM_PER_DAY, record_reading
from maintenance.models import MaintenancePlan, MeterKind, MeterReading
from maintenance.plans import publish_plan
from tests.factories import make_user

ZONE = ZoneInfo("Asia/Shanghai")
OIL = {
    "service_code": "engine_oil",
    "label_zh": "机油及机滤",
    "label_en": "Engine oil and filter",
    "every_km": 30000,
    "every_months": 6,
    "first_at_km": 5000,
    "first_at_months": 3,
    "soon_km": 2000,
    "soon_days": 14,
}


def make_plan(session: Session, *items: dict, oem: User | None = None, **overrides: object) -> MaintenancePlan:
    """Publish a plan for HOWO trucks (long haul) with `items` (default: the E.5 oil change)."""
    fields = {
        "code": "HOWO-LH",
        "model_prefix": "HOWO",
        "duty_cycle": "long_haul",
        "name_zh": "豪沃干线保养",
        "name_en": "HOWO long haul",
        "items": list(items) or [OIL],
        "now": utcnow(),
        **overrides,
    }
    return publish_plan(session, oem or make_user(session, Role.OEM_ADMIN), **fields)


def at(day: date, hour: int = 12) -> datetime:
    """Return noon (or `hour`) of a local day."""
    return datetime.combine(day, time(hour), ZONE)


def read(session: Session, vehicle: Vehicle, value: int, day: date, kind: str = MeterKind.KM) -> MeterReading:
    """Record a driver's reading on a local day."""
    moment = at(day)
    return record_reading(
        session, None, vehicle, kind, value, moment, "driver", now=moment, max_km_per_day=MAX_KM_PER_DAY
    )
