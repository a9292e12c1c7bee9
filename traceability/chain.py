"""The custody chain: appending hash-linked events and verifying that none was altered, removed or reordered."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import utcnow
from traceability.models import ChainHead, CustodyEvent, CustodyEventPart, Part

GENESIS_HASH = "0" * 64
HEAD_ID = 1


def parts_digest(lines: Iterable[str]) -> str:
    """Return the SHA-256 of sorted `gtin|serial` lines: what an event names, independent of order."""
    digest = hashlib.sha256()
    for line in sorted(lines):
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)


def event_hash(event: CustodyEvent) -> str:
    """Return the hash of an event's content and its predecessor's hash."""
    fields = (
        event.sequence,
        event.event_type,
        event.business_step,
        event.disposition,
        event.occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
        event.occurred_offset_minutes,
        event.recorded_at.astimezone(UTC).isoformat(timespec="microseconds"),
        event.organization_id,
        event.destination_id,
        event.user_id,
        event.vehicle_id,
        event.buyer_customer_id,
        event.batch_id,
        event.price,
        event.lat,
        event.lon,
        event.part_count,
        event.parts_digest,
        event.previous_hash,
    )
    return hashlib.sha256("\x1f".join(_text(value) for value in fields).encode()).hexdigest()


def lock_head(session: Session) -> ChainHead:
    """Return the chain head, row-locked until commit so appends from all workers form one line."""
    statement = select(ChainHead).where(ChainHead.id == HEAD_ID).with_for_update()
    head = session.scalar(statement)
    if head is None:
        try:
            with session.begin_nested():
                session.add(ChainHead(id=HEAD_ID, sequence=0, hash=GENESIS_HASH))
        except IntegrityError:
            pass  # another worker created it first; the locking select below waits for it
        head = session.scalar(statement.execution_options(populate_existing=True))
    return head


def append_event(session: Session, event: CustodyEvent, part_ids: list[int] | None = None) -> CustodyEvent:
    """Link `event` to the chain head, store it and the parts it names."""
    head = lock_head(session)
    event.sequence = head.sequence + 1
    event.previous_hash = head.hash
    event.recorded_at = utcnow()
    if event.occurred_offset_minutes is None:
        event.occurred_offset_minutes = 0
    event.hash = event_hash(event)
    session.add(event)
    session.flush()
    head.sequence, head.hash = event.sequence, event.hash
    if part_ids:
        session.execute(
            CustodyEventPart.__table__.insert(), [{"event_id": event.id, "part_id": part_id} for part_id in part_ids]
        )
    session.flush()
    return event


def stored_parts_digest(session: Session, event: CustodyEvent) -> str:
    """Recompute the digest of the parts an event names from what the database holds now."""
    if event.batch_id is not None and event.event_type == "commission":
        rows = session.execute(select(Part.gtin, Part.serial).where(Part.batch_id == event.batch_id))
    else:
        rows = session.execute(
            select(Part.gtin, Part.serial)
            .join(CustodyEventPart, CustodyEventPart.part_id == Part.id)
            .where(CustodyEventPart.event_id == event.id)
        )
    return parts_digest(f"{gtin}|{serial}" for gtin, serial in rows)


@dataclass(frozen=True)
class ChainProblem:
    """The first event where the chain breaks, and how."""

    sequence: int
    event_id: int | None
    problem: str

    def __str__(self) -> str:
        name = f"event #{self.sequence}" + (f" (id {self.event_id})" if self.event_id is not None else "")
        return f"{name}: {self.problem}"


def verify_chain(session: Session, progress: Callable[[int], None] | None = None) -> tuple[int, ChainProblem | None]:
    """Recompute the chain; return how many events were checked and the first problem, if any."""
    statement = select(CustodyEvent).order_by(CustodyEvent.sequence).execution_options(yield_per=500)
    events = session.scalars(statement)
    try:
        return _verify_events(session, events, progress)
    finally:
        events.close()


def _verify_events(
    session: Session, events: Iterable[CustodyEvent], progress: Callable[[int], None] | None
) -> tuple[int, ChainProblem | None]:
    expected_sequence, previous_hash, checked = 1, GENESIS_HASH, 0
    for event in events:
        if event.sequence != expected_sequence:
            return checked, ChainProblem(expected_sequence, None, f"missing (the next stored is #{event.sequence})")
        if event.previous_hash != previous_hash:
            return checked, ChainProblem(
                event.sequence, event.id, "does not follow its predecessor (removed or reordered)"
            )
        if event_hash(event) != event.hash:
            return checked, ChainProblem(event.sequence, event.id, "altered: its content no longer matches its hash")
        if stored_parts_digest(session, event) != event.parts_digest:
            return checked, ChainProblem(event.sequence, event.id, "altered: the parts it names were changed")
        previous_hash, expected_sequence = event.hash, expected_sequence + 1
        checked += 1
        if progress is not None:
            progress(1)
    head = session.get(ChainHead, HEAD_ID)
    if head is not None and (head.sequence, head.hash) != (expected_sequence - 1, previous_hash):
        return checked, ChainProblem(head.sequence, None, "missing: the newest events were removed")
    return checked, None


def count_events(session: Session) -> int:
    """Return how many events the chain holds."""
    head = session.get(ChainHead, HEAD_ID)
    return head.sequence if head else 0
