"""What maintenance holds about a person, for app.crm.personal_data.

Everything here is keyed by the truck (readings, service records, reminders, next-due values), never by a name or a
number, so an erasure keeps it: the truck's service history is the next owner's too. A copy holds what was recorded
while the truck was the person's.
"""

from __future__ import annotations

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.crm.models import VehicleOwnership
from app.crm.personal_data import Person, record_to_dict, register_exporter
from maintenance.models import MeterReading, MeterReplacement, Reminder, ServiceRecord


def _while_owned(session: Session, person: Person, model, moment) -> list:
    owned = VehicleOwnership
    return list(
        session.scalars(
            select(model)
            .join(owned, owned.vehicle_id == model.vehicle_id)
            .where(
                owned.customer_id == person.customer_id,
                moment >= owned.started_at,
                or_(owned.ended_at.is_(None), moment < owned.ended_at),
            )
            .order_by(model.id)
        )
    )


def export_maintenance(session: Session, person: Person) -> dict:
    """Return the meter readings, services done and reminders of the person's trucks while they owned them."""
    return {
        "meter_readings": [
            record_to_dict(row) for row in _while_owned(session, person, MeterReading, MeterReading.read_at)
        ],
        "meter_replacements": [
            record_to_dict(row) for row in _while_owned(session, person, MeterReplacement, MeterReplacement.replaced_at)
        ],
        "service_records": [
            record_to_dict(row) for row in _while_owned(session, person, ServiceRecord, ServiceRecord.done_at)
        ],
        "reminders": [record_to_dict(row) for row in _while_owned(session, person, Reminder, Reminder.sent_at)],
    }


register_exporter("maintenance", export_maintenance)
