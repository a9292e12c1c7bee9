"""What the maintenance views share: the settings of the running app, a truck's maintenance as JSON, the booking
listener network calls on check-in and completion."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from flask import current_app
from sqlalchemy.orm import Session

from app.clock import local_date
from app.crm.models import Vehicle
from app.security import User
from maintenance.meters import latest_reading, reading_to_dict
from maintenance.models import MeterKind
from maintenance.plans import plan_of_vehicle
from maintenance.schedule import due_to_dict, list_due
from maintenance.servicing import record_booking_service
from maintenance.settings import MaintenanceSettings, maintenance_settings
from network.models import Booking
from network.settings import NetworkSettings


def current_settings() -> MaintenanceSettings:
    """Return the maintenance settings of the running app."""
    return maintenance_settings(current_app.config)


def vehicle_maintenance(session: Session, vehicle: Vehicle, now: datetime, settings: MaintenanceSettings) -> dict:
    """Return a truck's plan, latest meters and items due as JSON."""
    plan = plan_of_vehicle(session, vehicle)
    meters = {kind.value: latest_reading(session, vehicle.id, kind) for kind in MeterKind}
    return {
        "vin": vehicle.vin,
        "plan": {"code": plan.code, "version": plan.version} if plan else None,
        "meters": {kind: reading_to_dict(reading) if reading else None for kind, reading in meters.items()},
        "items": [
            due_to_dict(due) for due in list_due(session, vehicle, local_date(now, settings.zone), settings.zone)
        ],
    }


def booking_listener(
    session: Session,
    actor: User,
    booking: Booking,
    action: str,
    readings: Mapping[str, int],
    settings: NetworkSettings,
    now: datetime,
) -> None:
    """Network's booking listener: meters at check-in and completion, the reset on completion."""
    record_booking_service(session, actor, booking, action, readings, settings, now)
