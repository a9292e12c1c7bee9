"""When the reminder round looks at a truck again (maintenance_reminder_checks): every change that can bring an item
due asks for a look at the next round; the round itself sets the next day the calendar alone brings one."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

from sqlalchemy import exists, select, update
from sqlalchemy.orm import Session

from app.crm.models import Vehicle
from maintenance.models import ReminderCheck, VehiclePlan

# "At the next round": earlier than any day the round runs on.
ASAP = date(2000, 1, 1)


def look_again(session: Session, vehicle_id: int) -> None:
    """Have the next reminder round look at the truck (a reading, a service or a plan change may bring items due).

    A truck the round has not met yet has no row: the round looks at it anyway when it first meets it.
    """
    session.execute(
        update(ReminderCheck)
        .where(ReminderCheck.vehicle_id == vehicle_id)
        .values(check_on=ASAP)
        .execution_options(synchronize_session=False)
    )


def look_again_at_model(session: Session, model_prefix: str) -> None:
    """Have the next round look at every truck of the models a new plan version is for that follows no plan yet."""
    escaped = model_prefix.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
    trucks = select(Vehicle.id).where(
        Vehicle.model.ilike(escaped + "%", escape="\\"),
        ~exists().where(VehiclePlan.vehicle_id == Vehicle.id),
    )
    session.execute(
        update(ReminderCheck)
        .where(ReminderCheck.vehicle_id.in_(trucks))
        .values(check_on=ASAP)
        .execution_options(synchronize_session=False)
    )


def next_check_on(due_days: Iterable[tuple[date | None, int | None]], today: date) -> date | None:
    """Return the first day after `today` on which an item reaches due soon or overdue by the calendar, or None.

    `due_days` holds each item's next-due day and its due-soon margin in days.
    """
    days = []
    for due_on, soon_days in due_days:
        if due_on is None:
            continue
        days.append(due_on)
        if soon_days:
            days.append(due_on - timedelta(days=soon_days))
    return min((day for day in days if day > today), default=None)
