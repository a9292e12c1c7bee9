"""Due-soon and overdue reminders: one inbox notification (and text, where allowed) and one lead touchpoint per due
occurrence of an item, never two, however often the job runs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import local_date
from app.crm.models import Vehicle
from app.crm.notifications import notify
from app.crm.touchpoints import Channel, record_touchpoint
from maintenance.models import Reminder, Status, VehiclePlan
from maintenance.plans import list_current_plans
from maintenance.schedule import Due, list_due
from maintenance.settings import MaintenanceSettings

BATCH = 500


def N_(text: str) -> str:  # noqa: N802 - the gettext marker's usual name; the inbox translates when it shows
    """Mark a message for translation; it is stored in English and shown in the reader's language."""
    return text


DUE_SOON = N_("Maintenance due soon on %(plate)s: %(item)s (%(left)s). Book it at a shop ahead on your road.")
OVERDUE = N_("Maintenance overdue on %(plate)s: %(item)s (%(left)s). Book it at a shop ahead on your road.")


def _left_text(due: Due) -> str:
    parts = []
    if due.km_left is not None:
        parts.append(f"{due.km_left} km")
    if due.hours_left is not None:
        parts.append(f"{due.hours_left} h")
    if due.days_left is not None:
        parts.append(f"{due.days_left} d")
    return " / ".join(parts) or "-"


def _vehicles_on_plans(session: Session) -> Iterator[Vehicle]:
    """Yield the vehicles that follow a plan or match one's models, in id order, a batch at a time."""
    prefixes = {plan.model_prefix for plan in list_current_plans(session)}
    matches = [
        Vehicle.model.ilike(prefix.replace("%", r"\%").replace("_", r"\_") + "%", escape="\\") for prefix in prefixes
    ]
    on_plan = Vehicle.id.in_(select(VehiclePlan.vehicle_id))
    condition = or_(on_plan, *matches)
    last_id = 0
    while True:
        batch = list(
            session.scalars(select(Vehicle).where(condition, Vehicle.id > last_id).order_by(Vehicle.id).limit(BATCH))
        )
        if not batch:
            return
        yield from batch
        last_id = batch[-1].id


def _claim(session: Session, vehicle: Vehicle, due: Due, now: datetime) -> Reminder | None:
    """Write the reminder row for this occurrence, or None if one exists (a second worker loses on the key)."""
    keys = {"vehicle_id": vehicle.id, "plan_item_id": due.item.id, "level": due.status, "occurrence": due.occurrence}
    if session.scalar(select(Reminder.id).filter_by(**keys)) is not None:
        return None
    reminder = Reminder(**keys, sent_at=now)
    try:
        with session.begin_nested():
            session.add(reminder)
            session.flush()
    except IntegrityError:
        return None
    return reminder


def send_reminders(session: Session, settings: MaintenanceSettings, now: datetime) -> dict:
    """Remind each truck's owner of items due soon or overdue, once per occurrence; return the counts."""
    today = local_date(now, settings.zone)
    counts = {
        "vehicles": 0,
        "reminders": 0,
        Status.DUE_SOON: 0,
        Status.OVERDUE: 0,
        "notifications": 0,
        "touchpoints": 0,
    }
    for vehicle in _vehicles_on_plans(session):
        counts["vehicles"] += 1
        for due in list_due(session, vehicle, today, settings.zone):
            if due.status == Status.OK:
                continue
            reminder = _claim(session, vehicle, due, now)
            if reminder is None:
                continue
            counts["reminders"] += 1
            counts[due.status] += 1
            owner = vehicle.owner
            if owner.user is not None and owner.user.is_active:
                written = notify(
                    session,
                    owner.user,
                    "maintenance." + due.status,
                    DUE_SOON if due.status == Status.DUE_SOON else OVERDUE,
                    params={"plate": vehicle.plate or vehicle.vin, "item": due.item.label_zh, "left": _left_text(due)},
                    now=now,
                    zone=settings.zone,
                    link=f"/crm/vehicles/{vehicle.vin}#maintenance",
                    subject=("vehicle", vehicle.vin),
                    channels=settings.reminder_channels,
                )
                reminder.notification_count = len(written)
                counts["notifications"] += len(written)
            touchpoint = record_touchpoint(
                session, channel=Channel.MAINTENANCE, kind=due.item.service_code, source_type="maintenance_reminder",
                source_id=reminder.id, customer=owner, vehicle=vehicle, consent_topic="maintenance",
                summary=f"{due.item.label_en} {due.status.replace('_', ' ')} ({_left_text(due)})", occurred_at=now,
            )  # fmt: skip
            if touchpoint is not None:
                reminder.touchpoint_id = touchpoint.id
                counts["touchpoints"] += 1
            session.flush()
    return counts
