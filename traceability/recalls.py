"""Recalls: choose the affected parts (batch, part type and production dates, or serials), flag them, and list
the vehicles they are installed on with their owners for the OEM to contact."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Integer, Select, func, literal, select, update
from sqlalchemy.orm import Session, joinedload

from app.crm.activity import record_activity
from app.crm.models import Vehicle
from app.crm.notifications import DEFAULT_ZONE, INBOX, N_, SMS, notify_customer
from app.db import utcnow
from app.errors import InvalidInput, NotFound
from app.jobs import QUEUE_KEY, enqueue
from app.phones import mask_phone
from app.security import User
from app.signing import random_crockford
from traceability.catalogue import get_part_type
from traceability.codes import normalize_gtin, normalize_serial
from traceability.models import Batch, Installation, Part, Recall, RecalledPart

MAX_SERIALS = 10_000
CHUNK = 1000
NOTIFY_JOB = "traceability.notify_recall_owners"
# Up to this many affected trucks, their owners are told inside the recall's own transaction; more go to a job.
NOTIFY_INLINE = 200
RECALL_TEXT = N_("Recall %(recall)s concerns a part on your truck %(vehicle)s: please have it checked at a shop.")


def _affected_parts(
    session: Session,
    *,
    batch_id: int | None,
    part_number: str | None,
    produced_from: date | None,
    produced_to: date | None,
    serials: list[dict] | None,
) -> tuple[str, Select, dict]:
    """Return the scope name, the query of affected part ids and the recall columns that describe it."""
    given = [name for name, value in (("batch", batch_id), ("part_number", part_number), ("serials", serials)) if value]
    if len(given) != 1:
        raise InvalidInput("recall by exactly one of: batch, part_number (with dates), serials", field="scope")
    if batch_id:
        if session.get(Batch, batch_id) is None:
            raise NotFound("no batch %(batch_id)s", field="batch", batch_id=batch_id)
        return "batch", select(Part.id).where(Part.batch_id == batch_id), {"batch_id": batch_id}
    if part_number:
        part_type = get_part_type(session, part_number)
        if produced_from and produced_to and produced_from > produced_to:
            raise InvalidInput("produced_from is after produced_to", field="produced_from")
        batches = select(Batch.id).where(Batch.part_type_id == part_type.id)
        if produced_from:
            batches = batches.where(Batch.production_date >= produced_from)
        if produced_to:
            batches = batches.where(Batch.production_date <= produced_to)
        columns = {"part_type_id": part_type.id, "produced_from": produced_from, "produced_to": produced_to}
        return "part_type", select(Part.id).where(Part.batch_id.in_(batches)), columns
    if len(serials) > MAX_SERIALS:
        raise InvalidInput(f"recall at most {MAX_SERIALS:,} serials at once", field="serials")
    ids = []
    for index, item in enumerate(serials):
        gtin = normalize_gtin(item.get("gtin", ""), field=f"serials[{index}].gtin")
        serial = normalize_serial(item.get("serial", ""), field=f"serials[{index}].serial")
        part_id = session.scalar(select(Part.id).where(Part.gtin == gtin, Part.serial == serial))
        if part_id is None:
            raise NotFound("no part %(gtin)s/%(serial)s", field=f"serials[{index}]", gtin=gtin, serial=serial)
        ids.append(part_id)
    return "serials", select(Part.id).where(Part.id.in_(ids)), {}


def create_recall(
    session: Session,
    actor: User,
    *,
    notice_zh: str,
    notice_en: str,
    batch_id: int | None = None,
    part_number: str | None = None,
    produced_from: date | None = None,
    produced_to: date | None = None,
    serials: list[dict] | None = None,
    zone: ZoneInfo = DEFAULT_ZONE,
) -> Recall:
    """Recall parts: every scan shows `recalled`, they can no longer be sold or installed, and owners are told."""
    for field, notice in (("notice_zh", notice_zh), ("notice_en", notice_en)):
        if not notice or not notice.strip():
            raise InvalidInput("a recall needs its notice in Chinese and English", field=field)
    scope, affected, columns = _affected_parts(
        session,
        batch_id=batch_id,
        part_number=part_number,
        produced_from=produced_from,
        produced_to=produced_to,
        serials=serials,
    )
    recall = Recall(
        code="RC-" + random_crockford(6),
        scope=scope,
        notice_zh=notice_zh.strip(),
        notice_en=notice_en.strip(),
        created_by_id=actor.id,
        **columns,
    )
    session.add(recall)
    session.flush()
    # Set-based: a recall of a whole part type can cover millions of parts.
    chosen = select(literal(recall.id, Integer), Part.id).where(Part.id.in_(affected))
    session.execute(RecalledPart.__table__.insert().from_select(["recall_id", "part_id"], chosen))
    session.execute(
        update(Part)
        .where(Part.id.in_(affected))
        .values(recall_id=recall.id)
        .execution_options(synchronize_session=False)
    )
    recall.part_count = session.scalar(
        select(func.count()).select_from(RecalledPart).where(RecalledPart.recall_id == recall.id)
    )
    record_activity(
        session, actor, "traceability.recall_created", "recall", recall.code, scope=scope, parts=recall.part_count
    )
    session.expire_all()
    tell_owners_soon(session, recall, zone, utcnow())
    return recall


def tell_owners_soon(session: Session, recall: Recall, zone: ZoneInfo, now: datetime) -> None:
    """Tell the owners of the affected trucks now when they are few, else through the worker's job."""
    affected = select_recall_vehicles(recall).order_by(None).with_only_columns(func.count())
    if session.scalar(affected) > NOTIFY_INLINE and QUEUE_KEY in session.info:
        enqueue(session, NOTIFY_JOB, {"recall_id": recall.id})
        return
    tell_owners(session, recall, zone, now)


def tell_owners(session: Session, recall: Recall, zone: ZoneInfo, now: datetime, progress=None) -> int:
    """Notify the owner of every truck carrying a recalled part (once per recall and truck, so a rerun is safe)."""
    installations = session.scalars(select_recall_vehicles(recall)).all()
    told = 0
    for done, installation in enumerate(installations, start=1):
        vehicle = installation.vehicle
        told += bool(
            notify_customer(
                session, vehicle.owner, "traceability.recall", RECALL_TEXT,
                params={"recall": recall.code, "vehicle": vehicle.plate or vehicle.vin},
                now=now, zone=zone, link=f"/crm/vehicles/{vehicle.vin}", subject=("recall", recall.code),
                channels=(INBOX, SMS), key=f"recall:{recall.id}:vehicle:{vehicle.id}",
            )
        )  # fmt: skip
        if progress is not None and done % CHUNK == 0:
            progress(done, len(installations))
    return told


def get_recall(session: Session, code: str) -> Recall:
    """Return the recall with `code`, or raise 404."""
    recall = session.scalar(select(Recall).where(Recall.code == (code or "").strip().upper()))
    if recall is None:
        raise NotFound("no recall %(recall)r", field="code", recall=code)
    return recall


def select_recalls() -> Select:
    """Return the query for every recall, newest first."""
    return select(Recall).order_by(Recall.created_at.desc(), Recall.id.desc())


def recall_to_dict(recall: Recall) -> dict:
    """Render a recall for the OEM."""
    return {
        "code": recall.code,
        "scope": recall.scope,
        "batch": recall.batch.lot if recall.batch else None,
        "part_number": recall.part_type.part_number if recall.part_type else None,
        "produced_from": recall.produced_from.isoformat() if recall.produced_from else None,
        "produced_to": recall.produced_to.isoformat() if recall.produced_to else None,
        "notice_zh": recall.notice_zh,
        "notice_en": recall.notice_en,
        "part_count": recall.part_count,
        "created_at": recall.created_at.isoformat(),
    }


def affected_vehicle_to_dict(installation: Installation, masked: bool = False) -> dict:
    """Render one vehicle carrying a recalled part, with its owner's contact (OEM only; `masked` for screens)."""
    vehicle = installation.vehicle
    phone = vehicle.owner.phone
    return {
        "vin": vehicle.vin,
        "plate": vehicle.plate,
        "owner": vehicle.owner.name,
        "phone": mask_phone(phone) if masked else phone,
        "part_number": installation.part.part_type.part_number,
        "gtin": installation.part.gtin,
        "serial": installation.part.serial,
        "installed_at": installation.installed_at.isoformat(),
    }


def select_recall_vehicles(recall: Recall) -> Select:
    """Return the query for current installations of recalled parts (vehicle and owner to contact)."""
    return (
        select(Installation)
        .join(RecalledPart, RecalledPart.part_id == Installation.part_id)
        .join(Vehicle, Vehicle.id == Installation.vehicle_id)
        .where(RecalledPart.recall_id == recall.id, Installation.removed_at.is_(None))
        .order_by(Vehicle.vin)
    )


def list_owner_recalls(session: Session, customer_id: int) -> list[tuple[Recall, Installation]]:
    """Return each recall of a part now installed on one of the customer's trucks, with that installation (its
    vehicle and part loaded), newest recall first."""
    statement = (
        select(Recall, Installation)
        .join(Part, Part.recall_id == Recall.id)
        .join(Installation, Installation.part_id == Part.id)
        .join(Vehicle, Vehicle.id == Installation.vehicle_id)
        .options(joinedload(Installation.vehicle), joinedload(Installation.part).joinedload(Part.part_type))
        .where(Vehicle.owner_id == customer_id, Installation.removed_at.is_(None))
        .order_by(Recall.created_at.desc(), Vehicle.vin)
    )
    return [(recall, installation) for recall, installation in session.execute(statement)]


def count_recalled_vehicles(session: Session) -> int:
    """Count the trucks that carry a recalled part today (the owners the call center must reach)."""
    # From the recalled parts (few) to their installations (indexed by part), never over every installation.
    statement = (
        select(func.count(func.distinct(Installation.vehicle_id)))
        .select_from(RecalledPart)
        .join(Installation, Installation.part_id == RecalledPart.part_id)
        .where(Installation.removed_at.is_(None))
    )
    return int(session.scalar(statement) or 0)


CONTACT_COLUMNS = ("recall", "vin", "plate", "owner", "phone", "part_number", "gtin", "serial", "installed_at")


def export_recall_contacts(session: Session, actor: User, recall: Recall) -> str:
    """Return the call center's CSV of every vehicle to contact (full phone numbers) and log who took it."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CONTACT_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    rows = 0
    for installation in session.scalars(select_recall_vehicles(recall)):
        writer.writerow({"recall": recall.code, **affected_vehicle_to_dict(installation)})
        rows += 1
    # Owners' phone numbers leave the system in this file: who took them, and how many, is on record.
    record_activity(session, actor, "traceability.recall_contacts_exported", "recall", recall.code, rows=rows)
    return buffer.getvalue()
