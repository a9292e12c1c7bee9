"""What traceability holds about a person, for app.crm.personal_data.

Custody events are append-only and chained; they name the truck and the buyer's customer row, never a name or a
number, so an erased person's parts keep their history unchanged. What a person did themselves (their scans)
loses the link to the account.
"""

from __future__ import annotations

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app.crm.models import VehicleOwnership
from app.crm.personal_data import Person, record_to_dict, register_eraser, register_exporter
from traceability.models import CustodyEvent, Installation, Part, Sale, Scan


def export_traceability(session: Session, person: Person) -> dict:
    """Return the parts bought by the person, the parts fitted to their trucks, and their own scans."""
    sales = session.scalars(select(Sale).where(Sale.buyer_customer_id == person.customer_id).order_by(Sale.id))
    # Parts fitted while the truck was the person's: a later owner's repairs are that owner's record.
    owned = VehicleOwnership
    installed = session.execute(
        select(Installation, Part.gtin, Part.serial)
        .join(Part, Part.id == Installation.part_id)
        .join(owned, owned.vehicle_id == Installation.vehicle_id)
        .where(
            owned.customer_id == person.customer_id,
            Installation.installed_at >= owned.started_at,
            or_(owned.ended_at.is_(None), Installation.installed_at < owned.ended_at),
        )
        .order_by(Installation.id)
    )
    events = session.scalars(
        select(CustodyEvent).where(CustodyEvent.buyer_customer_id == person.customer_id).order_by(CustodyEvent.id)
    )
    scans = (
        session.scalars(select(Scan).where(Scan.user_id == person.user_id).order_by(Scan.id))
        if person.user_id is not None
        else []
    )
    return {
        "purchases": [record_to_dict(row) for row in sales],
        "installed_parts": [record_to_dict(row) | {"gtin": gtin, "serial": serial} for row, gtin, serial in installed],
        "custody_events": [record_to_dict(row, without=("previous_hash", "hash", "key_id")) for row in events],
        "scans": [record_to_dict(row) for row in scans],
    }


def erase_traceability(session: Session, person: Person) -> dict[str, int]:
    """Unlink the person's scans from the account; custody events and installations keep the truck."""
    if person.user_id is None:
        return {"scans": 0}
    result = session.execute(
        update(Scan)
        .where(Scan.user_id == person.user_id)
        .values(user_id=None)
        .execution_options(synchronize_session=False)
    )
    return {"scans": int(result.rowcount or 0)}


register_exporter("traceability", export_traceability)
register_eraser("traceability", erase_traceability)
