"""What the maintenance views share: the settings of the running app and a truck's maintenance as JSON."""

from __future__ import annotations

from datetime import datetime

from flask import current_app
from sqlalchemy.orm import Session

from app.clock import local_date
from app.crm.models import Vehicle
from maintenance.meters import latest_reading, reading_to_dict
from maintenance.models import MeterKind
from maintenance.plans import plan_of_vehicle
from maintenance.schedule import due_to_dict, list_due
from maintenance.settings import MaintenanceSettings, maintenance_settings


def current_settings() -> MaintenanceSettings:
    """Return the maintenance settings of the running app."""
    return maintenance_settings(current_app.config)


def vehicle_maintenance(session: Session, vehicle: Vehicle, now: datetime, settings: MaintenanceSettings) -> dict:
    """Return a truck's plan, latest meters and items due as JSON."""
    plan = plan_of_vehicle(session, vehicle)
    meters = {kind.value: latest_reading(session, vehicle.id, kind) for kind in MeterKind}
    return {
        "vin": vehicle.vin,
        "plan": {"code": plan.code, "version": plan.version, "duty_cycle": plan.duty_cycle} if plan else None,
        "meters": {kind: reading_to_dict(reading) if reading else None for kind, reading in meters.items()},
        "items": [
            due_to_dict(due) for due in list_due(session, vehicle, local_date(now, settings.zone), settings.zone)
        ],
    }
