"""Commissioning: a production batch and its serialized parts, written in bulk (COPY on PostgreSQL)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from enum import StrEnum

import psycopg
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.clock import local_today
from app.crm.models import Organization, OrganizationKind
from app.crm.organizations import get_organization
from app.db import is_postgresql, utcnow
from app.errors import Conflict, InvalidInput
from app.security import User, is_oem
from app.signing import KeyRing, random_crockford
from traceability.chain import append_event, parts_digest
from traceability.codes import new_part_codes, new_serials
from traceability.models import Batch, CustodyEvent, EventType, Part, PartState, PartType

CHUNK = 20_000
# The worker job that commissions a large batch from the factory's form (traceability/tasks.py).
COMMISSION_JOB = "traceability.commission_batch"
SERIAL_ATTEMPTS = 3
PART_COLUMNS = (
    "part_type_id",
    "batch_id",
    "gtin",
    "serial",
    "tag",
    "activation_hash",
    "state",
    "holder_id",
    "updated_at",
)


class QcResult(StrEnum):
    """The outcome of a batch's quality check; only released batches are serialized."""

    PASSED = "passed"
    CONCESSION = "concession"
    FAILED = "failed"


def _new_lot(session: Session, production_date: date) -> str:
    while True:
        lot = production_date.strftime("%y%m%d") + "-" + random_crockford(5)
        if not session.scalar(select(Batch.id).where(Batch.lot == lot)):
            return lot


def part_rows(ring: KeyRing, batch: Batch, gtin: str, serials: list[str]) -> Iterator[tuple]:
    """Yield one row per serial, in PART_COLUMNS order: the tag, and the hash of the derived activation code."""
    now = utcnow()
    for serial, tag, activation_hash in new_part_codes(ring, gtin, serials):
        yield (
            batch.part_type_id,
            batch.id,
            gtin,
            serial,
            tag,
            activation_hash,
            PartState.PRODUCED.value,
            batch.factory_id,
            now,
        )


def copy_text(ring: KeyRing, gtin: str, serials: list[str], fixed: str) -> bytes:
    """Return COPY text lines (gtin, serial, tag, activation hash, then the batch-wide `fixed` columns)."""
    return "".join(
        [
            f"{gtin}\t{serial}\t{tag}\t{activation_hash}\t{fixed}\n"
            for serial, tag, activation_hash in new_part_codes(ring, gtin, serials)
        ]
    ).encode()


def _copy_chunks(ring: KeyRing, gtin: str, serials: list[str], fixed: str) -> Iterator[bytes]:
    # Computed here, chunk by chunk, while PostgreSQL takes in the chunks before: the three HMACs per part
    # (a few microseconds) cost less than PostgreSQL's side of each row, so helper processes only competed
    # with it for the cores (measured: docs/scale.md, "Heavy work").
    for start in range(0, len(serials), CHUNK):
        yield copy_text(ring, gtin, serials[start : start + CHUNK], fixed)


def _copy_rows(session: Session, ring: KeyRing, batch: Batch, gtin: str, serials: list[str], progress) -> None:
    # COPY streams rows in PostgreSQL's own protocol: far fewer round trips and parses than INSERTs.
    fixed = f"{batch.part_type_id}\t{batch.id}\t{PartState.PRODUCED.value}\t{batch.factory_id}\t{utcnow().isoformat()}"
    columns = (
        "gtin",
        "serial",
        "tag",
        "activation_hash",
        "part_type_id",
        "batch_id",
        "state",
        "holder_id",
        "updated_at",
    )
    cursor = session.connection().connection.driver_connection.cursor()
    try:
        with cursor.copy(f"COPY parts ({', '.join(columns)}) FROM STDIN") as copy:
            for chunk in _copy_chunks(ring, gtin, serials, fixed):
                copy.write(chunk)
                if progress is not None:
                    progress(chunk.count(b"\n"))
    except psycopg.errors.UniqueViolation as error:
        # COPY goes around SQLAlchemy, so its errors come as the driver's: say it the way every other
        # write does, so the serial retry (and the request's) sees a unique violation (issue 10 row 17).
        raise IntegrityError("COPY parts", None, error) from error


def _insert_rows(session: Session, rows: Iterator[tuple], progress: Callable[[int], None] | None) -> None:
    chunk: list[dict] = []
    for row in rows:
        chunk.append(dict(zip(PART_COLUMNS, row, strict=True)))
        if len(chunk) == CHUNK:
            session.execute(insert(Part.__table__), chunk)
            chunk = []
            if progress is not None:
                progress(CHUNK)
    if chunk:
        session.execute(insert(Part.__table__), chunk)


def write_parts(session: Session, ring: KeyRing, batch: Batch, gtin: str, serials: list[str], progress=None) -> None:
    """Insert a batch's parts with one bulk statement stream (executemany, or COPY on PostgreSQL)."""
    if is_postgresql(session):
        _copy_rows(session, ring, batch, gtin, serials, progress)
    else:
        _insert_rows(session, part_rows(ring, batch, gtin, serials), progress)


def check_batch_request(
    *,
    factory: Organization,
    quantity: int,
    production_line: str,
    production_date: date,
    qc_result: str,
    qc_inspector: str,
    max_quantity: int,
    today: date | None = None,
) -> None:
    """Refuse (naming the field) a batch that cannot be commissioned; the form checks before queueing a job."""
    if factory.kind != OrganizationKind.FACTORY:
        raise InvalidInput("%(factory_code)s is not a factory", field="factory", factory_code=factory.code)
    if not 1 <= quantity <= max_quantity:
        raise InvalidInput(
            "quantity must be between 1 and %(max_quantity)s", field="quantity", max_quantity=f"{max_quantity:,}"
        )
    if qc_result not in QcResult.__members__.values():
        raise InvalidInput(f"qc_result is one of {', '.join(QcResult)}", field="qc_result")
    if qc_result == QcResult.FAILED:
        raise Conflict("a batch that failed its quality check is not released for serialization", field="qc_result")
    # `today` is the caller's local date (app.clock.local_today with the configured TIMEZONE): a batch made this
    # morning in Shanghai is not "in the future" while it is still yesterday in UTC.
    if production_date > (today or local_today()) or production_date.year < 2000:
        raise InvalidInput("the production date must be in the past and after 2000", field="production_date")
    for field, value in (("production_line", production_line), ("qc_inspector", qc_inspector)):
        if not value or not value.strip():
            raise InvalidInput("%(field)s is required", field=field)


def commission_batch(
    session: Session,
    ring: KeyRing,
    *,
    part_type: PartType,
    factory: Organization,
    quantity: int,
    production_line: str,
    production_date: date,
    qc_result: str,
    qc_inspector: str,
    max_quantity: int,
    created_by: User | None = None,
    progress: Callable[[int], None] | None = None,
    today: date | None = None,
) -> Batch:
    """Create a batch and its `quantity` serialized parts, and record the commissioning event, atomically."""
    check_batch_request(
        factory=factory,
        quantity=quantity,
        production_line=production_line,
        production_date=production_date,
        qc_result=qc_result,
        qc_inspector=qc_inspector,
        max_quantity=max_quantity,
        today=today,
    )
    commissioned_at = utcnow()
    batch = Batch(
        lot=_new_lot(session, production_date),
        part_type_id=part_type.id,
        factory_id=factory.id,
        production_line=production_line.strip()[:40],
        production_date=production_date,
        qc_result=qc_result,
        qc_inspector=qc_inspector.strip()[:100],
        quantity=quantity,
        commissioned_at=commissioned_at,
        created_by_id=created_by.id if created_by else None,
    )
    session.add(batch)
    session.flush()
    serials = _write_unique_parts(session, ring, batch, part_type.gtin, quantity, progress)
    event = CustodyEvent(
        event_type=EventType.COMMISSION,
        business_step="commissioning",
        disposition="active",
        occurred_at=commissioned_at,
        organization_id=factory.id,
        user_id=created_by.id if created_by else None,
        batch_id=batch.id,
        lat=factory.lat,
        lon=factory.lon,
        part_count=quantity,
        parts_digest=parts_digest(f"{part_type.gtin}|{serial}" for serial in serials),
    )
    append_event(session, ring, event)
    return batch


def _write_unique_parts(session: Session, ring: KeyRing, batch: Batch, gtin: str, quantity: int, progress) -> list[str]:
    # Serials are random (60 bits), so a clash with an earlier batch of the same GTIN is possible but very
    # rare; the unique constraint catches it and the batch is drawn again inside a savepoint.
    for attempt in range(1, SERIAL_ATTEMPTS + 1):
        serials = new_serials(quantity)
        try:
            with session.begin_nested():
                write_parts(session, ring, batch, gtin, serials, progress)
        except IntegrityError:
            if attempt == SERIAL_ATTEMPTS:
                raise
            continue
        return serials
    raise AssertionError("unreachable")


def list_batch_parts(session: Session, batch: Batch) -> list[Part]:
    """Return a batch's parts ordered by serial."""
    return list(session.scalars(select(Part).where(Part.batch_id == batch.id).order_by(Part.serial)))


def batch_to_dict(batch: Batch) -> dict:
    """Render a batch for the API (never its activation codes)."""
    return {
        "id": batch.id,
        "lot": batch.lot,
        "part_number": batch.part_type.part_number,
        "gtin": batch.part_type.gtin,
        "factory": batch.factory.code,
        "production_line": batch.production_line,
        "production_date": batch.production_date.isoformat(),
        "qc_result": batch.qc_result,
        "qc_inspector": batch.qc_inspector,
        "quantity": batch.quantity,
        "created_at": batch.created_at.isoformat(),
    }


def select_batches_for(actor: User):
    """Return the query for batches the actor may list: the OEM all, factory staff their factory's."""
    statement = select(Batch).order_by(Batch.id.desc())
    if not is_oem(actor):
        statement = statement.where(Batch.factory_id == actor.organization_id)
    return statement


def find_factory_for(session: Session, actor: User, code: str | None) -> Organization:
    """Return the factory named by `code`, or the actor's own organization when no code is given."""
    if code:
        return get_organization(session, code, field="factory")
    organization = session.get(Organization, actor.organization_id) if actor.organization_id else None
    if organization is None:
        raise InvalidInput("name the factory", field="factory")
    return organization
