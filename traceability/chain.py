"""The custody chains: appending keyed, hash-linked events and verifying that none was altered, removed or
reordered.

Each organization that records events keeps its own chain (events numbered 1, 2, ... per organization, each
carrying the MAC of the one before), so custody writes of many warehouses do not queue on one head row.
An event is sealed with an HMAC under the key ring's newest key (its id is stored with the event), so
someone who can edit rows but does not hold the keys cannot recompute a chain after changing it.

What a chain proves, and what it does not: that every event was written, in this order, by a holder of
the keys, and that its content (and the parts it names) is unchanged since; a missing event in the middle
or at the end of a chain is found (the head row keeps the last number and MAC). It does not prove that
what an event says happened in the world, and it cannot protect against someone who holds the keys
and the database together; publishing the heads elsewhere (an OEM's daily signed statement) would.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from multiprocessing import get_context
from typing import Any

from sqlalchemy import Row, func, literal_column, select, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.db import is_postgresql, make_engine, utcnow
from app.signing import KeyRing
from traceability.models import ChainHead, CustodyEvent, CustodyEventPart, Part

GENESIS_HASH = "0" * 64
CHAIN_CONTEXT = "custody-chain"
VERIFY_ROWS = 5_000
EVENTS = CustodyEvent.__table__


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


def event_hash(ring: KeyRing, event: Any) -> str:
    """Return the MAC of an event's content and its predecessor's MAC, under the event's key."""
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
    return ring.mac(CHAIN_CONTEXT, "\x1f".join(_text(value) for value in fields), event.key_id)


def lock_head(session: Session, organization_id: int) -> ChainHead:
    """Return an organization's chain head, row-locked until commit so its appends form one line."""
    statement = select(ChainHead).where(ChainHead.organization_id == organization_id).with_for_update()
    head = session.scalar(statement)
    if head is None:
        try:
            with session.begin_nested():
                session.add(ChainHead(organization_id=organization_id, sequence=0, hash=GENESIS_HASH))
        except IntegrityError:
            pass  # another worker created it first; the locking select below waits for it
        head = session.scalar(statement.execution_options(populate_existing=True))
    return head


def append_event(
    session: Session, ring: KeyRing, event: CustodyEvent, part_ids: list[int] | None = None
) -> CustodyEvent:
    """Link `event` to its organization's chain, seal it with the newest key, store it and the parts it names."""
    head = lock_head(session, event.organization_id)
    event.sequence = head.sequence + 1
    event.previous_hash = head.hash
    event.recorded_at = utcnow()
    event.key_id = ring.signing_kid
    if event.occurred_offset_minutes is None:
        event.occurred_offset_minutes = 0
    event.hash = event_hash(ring, event)
    session.add(event)
    session.flush()
    head.sequence, head.hash = event.sequence, event.hash
    if part_ids:
        session.execute(
            CustodyEventPart.__table__.insert(), [{"event_id": event.id, "part_id": part_id} for part_id in part_ids]
        )
    session.flush()
    return event


@dataclass(frozen=True)
class ChainProblem:
    """The first event where a chain breaks, and how."""

    organization_id: int
    sequence: int
    event_id: int | None
    problem: str

    def __str__(self) -> str:
        name = f"event #{self.sequence} of organization {self.organization_id}"
        return name + (f" (id {self.event_id})" if self.event_id is not None else "") + f": {self.problem}"


def _sql_digest(lines: Any) -> Any:
    """PostgreSQL's own spelling of parts_digest over a column of `gtin|serial` lines (byte order, like sorted)."""
    joined = func.string_agg(lines + "\n", aggregate_order_by(literal_column("''"), lines.collate("C")))
    return func.encode(func.sha256(func.convert_to(joined, "UTF8")), "hex")


def _stored_digests(session: Session, low: int, high: int) -> Iterator[tuple[int, str]]:
    """Yield (event id, digest of the parts it names now) for the events with ids in [low, high], by id."""
    line = (Part.gtin + "|" + Part.serial).label("line")
    named = (
        select(CustodyEventPart.event_id, line)
        .join(Part, Part.id == CustodyEventPart.part_id)
        .where(CustodyEventPart.event_id.between(low, high))
    )
    if is_postgresql(session):
        # The digest in the database: one row per event comes back instead of one per part.
        lines = named.subquery()
        statement = (
            select(lines.c.event_id, _sql_digest(lines.c.line)).group_by(lines.c.event_id).order_by(lines.c.event_id)
        )
        rows = session.execute(statement.execution_options(yield_per=VERIFY_ROWS))
        try:
            yield from rows
        finally:
            rows.close()
        return
    rows = session.execute(named.order_by(CustodyEventPart.event_id).execution_options(yield_per=VERIFY_ROWS))
    try:
        current, lines_of = None, []
        for event_id, text in rows:
            if event_id != current and current is not None:
                yield current, parts_digest(lines_of)
                lines_of = []
            current = event_id
            lines_of.append(text)
        if current is not None:
            yield current, parts_digest(lines_of)
    finally:
        rows.close()


def _batch_digest(session: Session, batch_id: int) -> str:
    rows = session.execute(select(Part.gtin, Part.serial).where(Part.batch_id == batch_id))
    return parts_digest(f"{gtin}|{serial}" for gtin, serial in rows)


def _content_problems(
    session: Session, ring: KeyRing, low: int, high: int, progress: Callable[[int], None] | None
) -> tuple[int, list[ChainProblem]]:
    """Check the MAC and parts of every event with an id in [low, high]; return the count and the problems."""
    events = session.execute(
        select(EVENTS)
        .where(EVENTS.c.id.between(low, high))
        .order_by(EVENTS.c.id)
        .execution_options(yield_per=VERIFY_ROWS)
    )
    digests = _stored_digests(session, low, high)
    pending = next(digests, None)
    checked, problems = 0, []
    try:
        for event in events:
            while pending is not None and pending[0] < event.id:
                pending = next(digests, None)
            problem = _event_problem(session, ring, event, pending)
            if problem is not None:
                problems.append(ChainProblem(event.organization_id, event.sequence, event.id, problem))
            checked += 1
            if progress is not None and checked % 1000 == 0:
                progress(1000)
    finally:
        digests.close()
        events.close()
    if progress is not None:
        progress(checked % 1000)
    return checked, problems


def _event_problem(session: Session, ring: KeyRing, event: Row, pending: tuple[int, str] | None) -> str | None:
    if event.key_id is None:
        return "not sealed with a key (run `milepost chain reseal` once after upgrading)"
    if not ring.has_key(event.key_id):
        return f"sealed with key {event.key_id}, which is not in the key ring"
    if event_hash(ring, event) != event.hash:
        return "altered: its content no longer matches its MAC"
    if event.event_type == "commission" and event.batch_id is not None:
        stored = _batch_digest(session, event.batch_id)
    else:
        stored = pending[1] if pending is not None and pending[0] == event.id else parts_digest(())
    if stored != event.parts_digest:
        return "altered: the parts it names were changed"
    return None


def _link_problems(session: Session) -> list[ChainProblem]:
    """Check that each chain is numbered 1, 2, ... with each event naming its predecessor's MAC, up to its head."""
    rows = session.execute(
        select(EVENTS.c.organization_id, EVENTS.c.sequence, EVENTS.c.id, EVENTS.c.previous_hash, EVENTS.c.hash)
        .order_by(EVENTS.c.organization_id, EVENTS.c.sequence)
        .execution_options(yield_per=VERIFY_ROWS)
    )
    heads = {head.organization_id: (head.sequence, head.hash) for head in session.scalars(select(ChainHead))}
    problems: list[ChainProblem] = []
    chain, expected, previous, broken = None, 1, GENESIS_HASH, False
    ends: dict[int, tuple[int, str]] = {}
    for organization_id, sequence, event_id, previous_hash, digest in rows:
        if organization_id != chain:
            chain, expected, previous, broken = organization_id, 1, GENESIS_HASH, False
        if broken:
            continue
        if sequence != expected:
            problems.append(ChainProblem(chain, expected, None, f"missing (the next stored is #{sequence})"))
            broken = True
        elif previous_hash != previous:
            problems.append(
                ChainProblem(chain, sequence, event_id, "does not follow its predecessor (removed or reordered)")
            )
            broken = True
        else:
            ends[chain] = (sequence, digest)
            expected, previous = sequence + 1, digest
    broken_chains = {problem.organization_id for problem in problems}
    for organization_id, head in heads.items():
        if organization_id not in broken_chains and ends.get(organization_id, (0, GENESIS_HASH)) != head:
            problems.append(ChainProblem(organization_id, head[0], None, "missing: the newest events were removed"))
    return problems


def _verify_range(url: str, ring: KeyRing, low: int, high: int) -> tuple[int, list[ChainProblem]]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return _content_problems(session, ring, low, high, None)
    finally:
        engine.dispose()


def verify_chain(
    session: Session,
    ring: KeyRing,
    progress: Callable[[int], None] | None = None,
    processes: int = 1,
    url: str | None = None,
) -> tuple[int, ChainProblem | None]:
    """Verify every chain; return how many events were checked and the first problem (by organization, then
    number), if any. With `processes` > 1 and the database `url`, event ranges are checked in parallel by
    other processes (which see only committed data)."""
    problems = _link_problems(session)
    low, high = session.execute(select(func.min(EVENTS.c.id), func.max(EVENTS.c.id))).one()
    checked = 0
    # SQLite takes a file lock per transaction: other processes would only queue behind this one.
    if low is not None and processes > 1 and url is not None and is_postgresql(session):
        step = (high - low) // processes + 1
        ranges = [(start, min(start + step - 1, high)) for start in range(low, high + 1, step)]
        with ProcessPoolExecutor(max_workers=processes, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(_verify_range, url, ring, start, end) for start, end in ranges]
            for future in futures:
                count, found = future.result()
                checked += count
                problems.extend(found)
                if progress is not None:
                    progress(count)
    elif low is not None:
        checked, found = _content_problems(session, ring, low, high, progress)
        problems.extend(found)
    first = min(problems, key=lambda problem: (problem.organization_id, problem.sequence), default=None)
    return checked, first


def reseal_chains(session: Session, ring: KeyRing) -> int:
    """Seal every chain again with the newest key, in order (once, right after the upgrade that introduced
    keyed chains: it vouches for the content as it is now); return how many events were sealed."""
    sealed, chain, previous = 0, None, GENESIS_HASH
    events = session.scalars(select(CustodyEvent).order_by(CustodyEvent.organization_id, CustodyEvent.sequence))
    for event in events.all():
        if event.organization_id != chain:
            chain, previous = event.organization_id, GENESIS_HASH
        event.previous_hash, event.key_id = previous, ring.signing_kid
        event.hash = previous = event_hash(ring, event)
        session.execute(update(ChainHead).where(ChainHead.organization_id == chain).values(hash=previous))
        sealed += 1
    session.flush()
    return sealed


def count_events(session: Session) -> int:
    """Return how many events the chains hold."""
    return int(session.scalar(select(func.coalesce(func.sum(ChainHead.sequence), 0))))
