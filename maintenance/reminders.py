"""Due-soon and overdue reminders: one inbox notification (and text, where allowed) and one lead touchpoint per due
occurrence of an item, never two, however often the job runs.

A round reads only the trucks whose check day has come (maintenance.checks): the day the calendar brings an item
to a level, or the next round after a reading, a service or a new plan; with a million trucks an hourly round
reads the few thousand that may have news, not all of them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import local_date
from app.crm.models import Vehicle
from app.crm.notifications import notify
from app.crm.touchpoints import Channel, record_touchpoint
from maintenance.checks import ASAP, next_check_on
from maintenance.models import Reminder, ReminderCheck, Status
from maintenance.schedule import Due, list_due
from maintenance.settings import MaintenanceSettings

BATCH = 500
# Trucks a round handles between two checkpoints (the job commits there): SQLite has one writer, and the first round
# after the demo (4,800 trucks, every one due a check) held it for half a minute in one transaction; 100 trucks
# still took 2-4 s at load 10, 20 take under a second.
CHUNK = 20
# How far below the newest truck the round has met it looks for trucks it has not (ids committed out of order).
ENROL_MARGIN = 1000
# How often an item past due is told again, as long as it stays past due.
REPEAT_EVERY = timedelta(days=7)


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


def _no_checkpoint() -> None:
    return None


def _enrol_new_trucks(session: Session, checkpoint: Callable[[], None] = _no_checkpoint) -> None:
    """Give each truck the round has not met yet a check row for this round (new trucks have the highest ids).

    The round looks back ENROL_MARGIN ids below the newest truck it met: a registration that committed after a
    later one is still met. Two rounds at once: the one that loses on the key leaves the row to the other.
    """
    newest = session.scalar(select(func.max(ReminderCheck.vehicle_id))) or 0
    floor = max(0, newest - ENROL_MARGIN)
    while True:
        new = session.scalars(
            select(Vehicle.id)
            .outerjoin(ReminderCheck, ReminderCheck.vehicle_id == Vehicle.id)
            .where(Vehicle.id > floor, ReminderCheck.vehicle_id.is_(None))
            .order_by(Vehicle.id)
            .limit(BATCH)
        ).all()
        if not new:
            return
        for vehicle_id in new:
            try:
                with session.begin_nested():
                    session.add(ReminderCheck(vehicle_id=vehicle_id, check_on=ASAP))
                    session.flush()
            except IntegrityError:
                pass
        floor = new[-1]
        checkpoint()


def _trucks_to_check(session: Session, today: date) -> Iterator[tuple[Vehicle, ReminderCheck]]:
    """Yield the trucks whose check day has come, in id order, a batch at a time (never every truck)."""
    last_id = 0
    while True:
        batch = session.execute(
            select(Vehicle, ReminderCheck)
            .join(ReminderCheck, ReminderCheck.vehicle_id == Vehicle.id)
            .where(ReminderCheck.check_on <= today, ReminderCheck.vehicle_id > last_id)
            .order_by(ReminderCheck.vehicle_id)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        yield from batch
        last_id = batch[-1][0].id


def _claim(
    session: Session, vehicle: Vehicle, due: Due, now: datetime, occurrence: str | None = None
) -> Reminder | None:
    """Write the reminder row for this occurrence, or None if one exists (a second worker loses on the key)."""
    keys = {
        "vehicle_id": vehicle.id, "plan_item_id": due.item.id, "level": due.status,
        "occurrence": occurrence or due.occurrence,
    }  # fmt: skip
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


def _claim_repeat(session: Session, vehicle: Vehicle, due: Due, now: datetime, today: date, zone) -> Reminder | None:
    """Write the next weekly reminder of an overdue occurrence when the last one is a week old, else None.

    The repeats are numbered on the occurrence ("...#1", "...#2"), so two rounds at once lose on the same key.
    """
    base = due.occurrence
    told = session.execute(
        select(func.count(), func.max(Reminder.sent_at)).where(
            Reminder.vehicle_id == vehicle.id,
            Reminder.plan_item_id == due.item.id,
            Reminder.level == Status.OVERDUE,
            or_(Reminder.occurrence == base, Reminder.occurrence.like(f"{base}#%")),
        )
    ).one()
    count, last = told
    if not count or last is None or local_date(last, zone) > today - REPEAT_EVERY:
        return None
    return _claim(session, vehicle, due, now, occurrence=f"{base}#{count}")


def send_reminders(
    session: Session, settings: MaintenanceSettings, now: datetime, checkpoint: Callable[[], None] = _no_checkpoint
) -> dict:
    """Remind each truck's owner of items due soon or overdue, once per occurrence; return the counts.

    `checkpoint` is called after every CHUNK trucks (the job commits there). Each truck's reminders and its next
    check day are written together, between two checkpoints: a round stopped in between has told some trucks'
    owners and moved their check days, and the next round tells the others, never one twice (the reminder's key)."""
    today = local_date(now, settings.zone)
    counts = {
        "vehicles": 0,
        "reminders": 0,
        Status.DUE_SOON: 0,
        Status.OVERDUE: 0,
        "notifications": 0,
        "touchpoints": 0,
    }
    _enrol_new_trucks(session, checkpoint)
    for vehicle, check in _trucks_to_check(session, today):
        counts["vehicles"] += 1
        dues = list_due(session, vehicle, today, settings.zone)
        check.check_on = next_check_on(((due.next_due_on, due.item.soon_days) for due in dues), today)
        if any(due.status == Status.OVERDUE for due in dues):
            # Past due is told again every week until it is done: the truck comes back in a week at the latest.
            check.check_on = min(check.check_on or date.max, today + REPEAT_EVERY)
        for due in dues:
            if due.status == Status.OK:
                continue
            reminder = _claim(session, vehicle, due, now)
            repeat = reminder is None and due.status == Status.OVERDUE
            if repeat:
                reminder = _claim_repeat(session, vehicle, due, now, today, settings.zone)
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
            if repeat:
                session.flush()
                continue  # the dealer's lead heard of this occurrence the first time; a repeat tells the driver only
            touchpoint = record_touchpoint(
                session, channel=Channel.MAINTENANCE, kind=due.item.service_code, source_type="maintenance_reminder",
                source_id=reminder.id, customer=owner, vehicle=vehicle, consent_topic="maintenance",
                summary=f"{due.item.label_en} {due.status.replace('_', ' ')} ({_left_text(due)})", occurred_at=now,
            )  # fmt: skip
            if touchpoint is not None:
                reminder.touchpoint_id = touchpoint.id
                counts["touchpoints"] += 1
            session.flush()
        session.flush()
        if counts["vehicles"] % CHUNK == 0:
            checkpoint()
    return counts
