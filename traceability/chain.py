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
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from multiprocessing import get_all_start_methods, get_context
from typing import Any

from sqlalchemy import BigInteger, Text, bindparam, cast, func, literal_column, or_, select, text, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.pool import NullPool

from app.db import is_postgresql, make_engine, utcnow
from app.signing import KeyRing
from traceability.models import ChainHead, CustodyEvent, CustodyEventPart, Part

GENESIS_HASH = "0" * 64
CHAIN_CONTEXT = "custody-chain"
VERIFY_ROWS = 5_000
RANGES_PER_PROCESS = 4
# Events per range checked in one go: their part lines (about a dozen each) are aggregated in memory.
RANGE_EVENTS = 20_000
# `milepost chain verify` without --jobs checks in parallel from this many events on (below it, the second
# connection costs more than it saves), on as many connections as the process has CPUs, up to DEFAULT_JOBS.
PARALLEL_FROM = 2 * RANGE_EVENTS
DEFAULT_JOBS = 4
EVENTS = CustodyEvent.__table__


def parts_digest(lines: Iterable[str]) -> str:
    """Return the SHA-256 of sorted `gtin|serial` lines: what an event names, independent of order."""
    ordered = sorted(lines)
    ordered.append("")  # every line ends with a newline, the last one too
    return hashlib.sha256("\n".join(ordered).encode()).hexdigest()


def _text(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, float):
        return f"{value:.6f}"
    return str(value)


# The columns an event's MAC covers, in order (the two times as UTC ISO text with microseconds).
HASHED_COLUMNS = (
    "sequence",
    "event_type",
    "business_step",
    "disposition",
    "occurred_at",
    "occurred_offset_minutes",
    "recorded_at",
    "organization_id",
    "destination_id",
    "user_id",
    "vehicle_id",
    "buyer_customer_id",
    "batch_id",
    "price",
    "lat",
    "lon",
    "part_count",
    "parts_digest",
    "previous_hash",
)
_TIMES = frozenset({"occurred_at", "recorded_at"})


def _moment(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def chain_message(values: Iterable[Any]) -> str:
    """Return the text an event's MAC is computed over, from its HASHED_COLUMNS values in order."""
    return "\x1f".join(
        _moment(value) if name in _TIMES else _text(value) for name, value in zip(HASHED_COLUMNS, values, strict=True)
    )


def event_hash(ring: KeyRing, event: Any) -> str:
    """Return the MAC of an event's content and its predecessor's MAC, under the event's key."""
    return ring.mac(CHAIN_CONTEXT, chain_message(getattr(event, name) for name in HASHED_COLUMNS), event.key_id)


def _stored_message(
    sequence: int,
    event_type: str,
    business_step: str,
    disposition: str,
    occurred_at: datetime,
    offset: int,
    recorded_at: datetime,
    organization_id: int,
    destination_id: int | None,
    user_id: int | None,
    vehicle_id: int | None,
    buyer_customer_id: int | None,
    batch_id: int | None,
    price: Decimal | None,
    lat: float | None,
    lon: float | None,
    part_count: int,
    digest: str,
    previous_hash: str,
) -> str:
    """`chain_message` of a stored event's columns (NOT NULL ones as read), unrolled for the verifying loop."""
    return "\x1f".join(
        (
            str(sequence),
            event_type,
            business_step,
            disposition,
            occurred_at.astimezone(UTC).isoformat(timespec="microseconds"),
            str(offset),
            recorded_at.astimezone(UTC).isoformat(timespec="microseconds"),
            str(organization_id),
            "" if destination_id is None else str(destination_id),
            "" if user_id is None else str(user_id),
            "" if vehicle_id is None else str(vehicle_id),
            "" if buyer_customer_id is None else str(buyer_customer_id),
            "" if batch_id is None else str(batch_id),
            _text(price),
            _text(lat),
            _text(lon),
            str(part_count),
            digest,
            previous_hash,
        )
    )


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
            CustodyEventPart.__table__.insert(),
            [{"event_id": event.id, "part_id": part_id, "occurred_at": event.occurred_at} for part_id in part_ids],
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


def _event_lines(low: int, high: int) -> Any:
    line = (Part.gtin + "|" + Part.serial).label("line")
    return (
        select(CustodyEventPart.event_id, line)
        .join(Part, Part.id == CustodyEventPart.part_id)
        .where(CustodyEventPart.event_id.between(low, high))
    )


def _stored_digests(session: Session, low: int, high: int) -> Iterator[tuple[int, str]]:
    """Yield (event id, digest of the parts it names now) for the events with ids in [low, high], by id."""
    named = _event_lines(low, high)
    if is_postgresql(session):
        # One row per event comes back instead of one per part: its lines joined in any order (a hash
        # aggregate, no sort of the range's lines), sorted and hashed here (a dozen lines per event), which
        # costs less in all than PostgreSQL's ordered aggregate.
        statement = (
            select(CustodyEventPart.event_id, func.string_agg(Part.gtin + "|" + Part.serial, "\n"))
            .join(Part, Part.id == CustodyEventPart.part_id)
            .where(CustodyEventPart.event_id.between(low, high))
            .group_by(CustodyEventPart.event_id)
            .order_by(CustodyEventPart.event_id)
        )
        rows = session.execute(statement.execution_options(yield_per=VERIFY_ROWS))
        try:
            for event_id, lines in rows:
                yield event_id, parts_digest(lines.split("\n"))
        finally:
            rows.close()
        return
    rows = session.execute(named.order_by(CustodyEventPart.event_id).execution_options(yield_per=VERIFY_ROWS))
    try:
        current, lines_of = None, []
        for event_id, line_text in rows:
            if event_id != current and current is not None:
                yield current, parts_digest(lines_of)
                lines_of = []
            current = event_id
            lines_of.append(line_text)
        if current is not None:
            yield current, parts_digest(lines_of)
    finally:
        rows.close()


def _batch_digest(session: Session, batch_id: int) -> str:
    if is_postgresql(session):
        fast = session.scalar(select(_sql_digest(Part.gtin + "|" + Part.serial)).where(Part.batch_id == batch_id))
        if fast is not None:
            return fast
    return _exact_batch_digest(session, batch_id)


def _exact_batch_digest(session: Session, batch_id: int) -> str:
    rows = session.execute(select(Part.gtin, Part.serial).where(Part.batch_id == batch_id))
    return parts_digest(f"{gtin}|{serial}" for gtin, serial in rows)


# What the content check reads of each event: its id, key, MAC, then the MAC's columns in order.
_CONTENT_COLUMNS = (EVENTS.c.id, EVENTS.c.key_id, EVENTS.c.hash, *(EVENTS.c[name] for name in HASHED_COLUMNS))
# What the content check reads first of each event: its id, key and MAC, and the place a problem is named by.
_CHECKED = (EVENTS.c.id, EVENTS.c.key_id, EVENTS.c.hash, EVENTS.c.organization_id, EVENTS.c.sequence)
_FIELD = "\x1f"
_UTC_MOMENT = 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"'


def _sql_text(column: Any) -> Any:
    """`_text` of a column in SQL, for the columns whose text PostgreSQL spells exactly as Python does:
    integers, strings, numeric(12, 2), and UTC times (`_moment`)."""
    if column.name in _TIMES:
        return func.to_char(func.timezone("UTC", column), _UTC_MOMENT)
    return func.coalesce(cast(column, Text), "")


def _sql_message_parts() -> tuple[Any, Any]:
    """The MAC's text before and after `lat` and `lon`, made by PostgreSQL: Python then adds the two floats
    (their six-decimal text is Python's rounding) and no time, number or decimal is converted per row."""
    before = [EVENTS.c[name] for name in HASHED_COLUMNS[: HASHED_COLUMNS.index("lat")]]
    after = [EVENTS.c[name] for name in HASHED_COLUMNS[HASHED_COLUMNS.index("lon") + 1 :]]
    return (
        func.concat(func.concat_ws(_FIELD, *map(_sql_text, before)), _FIELD),
        func.concat(_FIELD, func.concat_ws(_FIELD, *map(_sql_text, after))),
    )


def _checked_rows(session: Session, low: int, high: int) -> Iterator[tuple]:
    """Yield (id, key, MAC, organization, number, type, batch, parts digest, MAC text) per event in [low, high],
    by id, streamed from a server-side cursor."""
    columns = (*_CHECKED, EVENTS.c.event_type, EVENTS.c.batch_id, EVENTS.c.parts_digest)
    if is_postgresql(session):
        before, after = _sql_message_parts()
        selected = (*columns, before, EVENTS.c.lat, EVENTS.c.lon, after)
    else:
        selected = (*columns, *(EVENTS.c[name] for name in HASHED_COLUMNS))
    rows = session.execute(
        select(*selected)
        .where(EVENTS.c.id.between(low, high))
        .order_by(EVENTS.c.id)
        .execution_options(yield_per=VERIFY_ROWS)
    )
    width, number = len(columns), _text
    try:
        if is_postgresql(session):
            for row in rows:
                head, lat, lon, tail = row[width:]
                yield (*row[:width], f"{head}{number(lat)}{_FIELD}{number(lon)}{tail}")
        else:
            for row in rows:
                yield (*row[:width], _stored_message(*row[width:]))
    finally:
        rows.close()


def _exact_message(session: Session, event_id: int) -> str:
    """`chain_message` of one stored event from its values as Python reads them (the reference the text made
    by the database is checked against before an event is called altered)."""
    row = session.execute(select(*_CONTENT_COLUMNS).where(EVENTS.c.id == event_id)).one()
    return _stored_message(*row[3:])


def _content_problems(
    session: Session, ring: KeyRing, low: int, high: int, progress: Callable[[int], None] | None
) -> tuple[int, list[ChainProblem]]:
    """Check the MAC and parts of every event with an id in [low, high]; return the count and the problems.

    One streamed read of the events and one of the digests, merged by id; the MACs are computed in a tight loop
    over plain rows (no ORM objects)."""
    if is_postgresql(session):
        # The digests' groups in memory rather than on disk; no JIT compilation (it costs more than it saves
        # on these short per-row expressions).
        session.execute(text("SET LOCAL work_mem = '64MB'"))
        session.execute(text("SET LOCAL jit = off"))
    events = _checked_rows(session, low, high)
    digests = _stored_digests(session, low, high)
    pending_id, pending_digest = next(digests, (None, None))
    macs: dict[str, Callable[[str], str]] = {}
    batches: dict[int, str] = {}
    checked, problems = 0, []
    no_parts = parts_digest(())
    try:
        for event_id, key_id, stored_mac, organization_id, sequence, event_type, batch_id, digest, message in events:
            while pending_id is not None and pending_id < event_id:
                pending_id, pending_digest = next(digests, (None, None))
            problem = None
            mac = macs.get(key_id) if key_id is not None else None
            if mac is None and key_id is not None and ring.has_key(key_id):
                mac = macs[key_id] = ring.mac_function(CHAIN_CONTEXT, key_id)
            if key_id is None:
                problem = "not sealed with a key (run `milepost chain reseal` once after upgrading)"
            elif mac is None:
                problem = f"sealed with key {key_id}, which is not in the key ring"
            elif mac(message) != stored_mac and mac(_exact_message(session, event_id)) != stored_mac:
                problem = "altered: its content no longer matches its MAC"
            else:
                if event_type == "commission" and batch_id is not None:
                    if batch_id not in batches:
                        batches[batch_id] = _batch_digest(session, batch_id)
                    stored = batches[batch_id]
                    if stored != digest:
                        stored = _exact_batch_digest(session, batch_id)
                else:
                    stored = pending_digest if pending_id == event_id else no_parts
                if stored != digest:
                    problem = "altered: the parts it names were changed"
            if problem is not None:
                problems.append(ChainProblem(organization_id, sequence, event_id, problem))
            checked += 1
            if progress is not None and checked % 1000 == 0:
                progress(1000)
    finally:
        digests.close()
        events.close()
    if progress is not None:
        progress(checked % 1000)
    return checked, problems


# The MACs computed by PostgreSQL (HMAC-SHA256 from its built-in sha256 and the keys' pads: no extension
# needed): only the events whose MAC or parts digest it does not reproduce come back, and each of those is
# checked again by the Python code above before it is reported, so the report is the Python path's.
KEYS_TABLE = "milepost_chain_keys"
# Past this many events of one range that the database does not vouch for, the range is checked in Python.
RECHECKED_EVENTS = 1_000


def _hand_over_keys(session: Session, ring: KeyRing) -> bool:
    """Put the ring's keys in a temporary table of this connection (dropped at the end of the transaction,
    or sooner by `_drop_keys`); return False when the connection cannot have one (a read-only transaction, a
    standby, no TEMP privilege, or not psycopg 3).

    The keys go in by COPY: the server logs statements and their parameters (log_statement,
    log_min_duration_statement), never the data a COPY reads, and the statements here name the table only."""
    allowed = session.scalar(
        text(
            "SELECT current_setting('transaction_read_only') = 'off' AND NOT pg_is_in_recovery()"
            " AND has_database_privilege(current_database(), 'TEMP')"
        )
    )
    raw = session.connection().connection.driver_connection
    if not allowed or not hasattr(getattr(raw, "cursor_factory", None), "copy"):
        return False
    session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{KEYS_TABLE}"))
    columns = "kid text PRIMARY KEY, inner_pad bytea, outer_pad bytea"
    session.execute(text(f"CREATE TEMPORARY TABLE {KEYS_TABLE} ({columns}) ON COMMIT DROP"))
    with raw.cursor() as cursor, cursor.copy(f"COPY pg_temp.{KEYS_TABLE} FROM STDIN") as copy:
        for row in ring.pads_for_database():
            copy.write_row(row)
    return True


def _drop_keys(session: Session) -> None:
    session.execute(text(f"DROP TABLE IF EXISTS pg_temp.{KEYS_TABLE}"))


def _sql_parts_digest(line: str) -> str:
    """SQL for parts_digest over the lines `line` of a group: sorted by byte (code point) order like
    `sorted`, each ending with a newline."""
    return f"encode(sha256(convert_to(string_agg({line} || E'\\n', '' ORDER BY {line} COLLATE \"C\"), 'UTF8')), 'hex')"


def _sql_float(column: str) -> str:
    # to_char formats a float8 with C's correctly rounded printf, as Python's f"{x:.6f}" rounds.
    return f"coalesce(to_char({column}, 'FM999999999990.000000'), '')"


def _mismatches_statement() -> Any:
    """The ids of the events with ids in [:low, :high] whose MAC (under its key's pads in the keys table) or
    parts digest the database does not reproduce, or whose key it does not have."""
    fields = []
    for name in HASHED_COLUMNS:
        if name in _TIMES:
            fields.append(f"to_char(e.{name} AT TIME ZONE 'UTC', '{_UTC_MOMENT}')")
        elif name in ("lat", "lon"):
            fields.append(_sql_float(f"e.{name}"))
        else:
            fields.append(f"coalesce(e.{name}::text, '')")
    message = f"convert_to(:context || {' || chr(31) || '.join(fields)}, 'UTF8')"
    line = "(p.gtin || '|' || p.serial)"
    # The lines come to the aggregate sorted by one sort of the range's lines (cheaper than a sort per event);
    # should an aggregate ever see them in another order, the event is only checked again in Python.
    return text(
        f"""
        WITH named AS (
            SELECT event_id, encode(sha256(convert_to(string_agg(line || E'\\n', ''), 'UTF8')), 'hex') AS digest
            FROM (
                SELECT l.event_id, {line} AS line
                FROM custody_event_parts l JOIN parts p ON p.id = l.part_id
                WHERE l.event_id BETWEEN :low AND :high
                ORDER BY l.event_id, {line} COLLATE "C"
            ) lines
            GROUP BY event_id
        )
        SELECT e.id
        FROM custody_events e
        LEFT JOIN pg_temp.{KEYS_TABLE} k ON k.kid = e.key_id
        LEFT JOIN named d ON d.event_id = e.id
        WHERE e.id BETWEEN :low AND :high
          AND (k.kid IS NULL
            OR e.hash IS DISTINCT FROM encode(sha256(k.outer_pad || sha256(k.inner_pad || {message})), 'hex')
            OR e.parts_digest IS DISTINCT FROM CASE
                WHEN e.event_type = 'commission' AND e.batch_id IS NOT NULL
                THEN (SELECT {_sql_parts_digest(line)} FROM parts p WHERE p.batch_id = e.batch_id)
                ELSE coalesce(d.digest, :no_parts) END)
        ORDER BY e.id
        """
    ).bindparams(
        bindparam("low", type_=BigInteger),
        bindparam("high", type_=BigInteger),
        context=f"{CHAIN_CONTEXT}\x1e",
        no_parts=parts_digest(()),
    )


def _content_problems_in_database(
    session: Session, ring: KeyRing, low: int, high: int
) -> tuple[int, list[ChainProblem]]:
    """`_content_problems` of [low, high] with the MACs and digests computed by PostgreSQL (the keys handed
    over already): each event it does not vouch for is checked by the Python code, which names the problem."""
    session.execute(text("SET LOCAL work_mem = '64MB'"))
    session.execute(text("SET LOCAL jit = off"))
    suspects = list(session.scalars(_mismatches_statement(), {"low": low, "high": high}))
    checked = int(session.scalar(select(func.count()).select_from(EVENTS).where(EVENTS.c.id.between(low, high))))
    if len(suspects) > RECHECKED_EVENTS:
        # Something the database spells differently throughout (its encoding, say): the Python path, once.
        return _content_problems(session, ring, low, high, None)
    problems = []
    for event_id in suspects:
        problems.extend(_content_problems(session, ring, event_id, event_id, None)[1])
    return checked, problems


def _link_problems(session: Session) -> list[ChainProblem]:
    """Check that each chain is numbered 1, 2, ... with each event naming its predecessor's MAC, up to its head.

    The database compares each event with the one before it in its chain (window functions): only the events
    that break a chain, and the last of each chain, come back."""
    chain_order = {"partition_by": EVENTS.c.organization_id, "order_by": EVENTS.c.sequence}
    linked = select(
        EVENTS.c.organization_id,
        EVENTS.c.sequence,
        EVENTS.c.id,
        EVENTS.c.previous_hash,
        EVENTS.c.hash,
        func.lag(EVENTS.c.sequence).over(**chain_order).label("before"),
        func.lag(EVENTS.c.hash).over(**chain_order).label("before_hash"),
        func.lead(EVENTS.c.sequence).over(**chain_order).label("after"),
    ).subquery()
    rows = session.execute(
        select(linked)
        .where(
            or_(
                linked.c.sequence != func.coalesce(linked.c.before, 0) + 1,
                linked.c.previous_hash != func.coalesce(linked.c.before_hash, GENESIS_HASH),
                linked.c.after.is_(None),
            )
        )
        .order_by(linked.c.organization_id, linked.c.sequence)
        .execution_options(yield_per=VERIFY_ROWS)
    )
    heads = {head.organization_id: (head.sequence, head.hash) for head in session.scalars(select(ChainHead))}
    problems: list[ChainProblem] = []
    broken: set[int] = set()
    ends: dict[int, tuple[int, str]] = {}
    for chain, sequence, event_id, previous_hash, digest, before, before_hash, _after in rows:
        if chain in broken:
            continue
        expected = (before or 0) + 1
        if before is not None and sequence == before:
            problems.append(
                ChainProblem(chain, sequence, event_id, "repeated: another event has its number (inserted or replayed)")
            )
            broken.add(chain)
        elif sequence != expected:
            problems.append(ChainProblem(chain, expected, None, f"missing (the next stored is #{sequence})"))
            broken.add(chain)
        elif previous_hash != (before_hash if before_hash is not None else GENESIS_HASH):
            problems.append(
                ChainProblem(chain, sequence, event_id, "does not follow its predecessor (removed or reordered)")
            )
            broken.add(chain)
        else:
            ends[chain] = (sequence, digest)
    for organization_id, head in heads.items():
        if organization_id not in broken and ends.get(organization_id, (0, GENESIS_HASH)) != head:
            problems.append(ChainProblem(organization_id, head[0], None, "missing: the newest events were removed"))
    return problems


_ENGINES: dict[str, Any] = {}


def _verify_range(url: str, ring: KeyRing, low: int, high: int) -> tuple[int, list[ChainProblem]]:
    # One engine per worker process for all the ranges it is given.
    engine = _ENGINES.get(url)
    if engine is None:
        engine = _ENGINES[url] = make_engine(url, poolclass=NullPool)
    with Session(engine) as session:
        return _content_problems(session, ring, low, high, None)


def _event_ranges(session: Session, pieces: int, multiple_of: int = 1) -> list[tuple[int, int]]:
    """Split the events into `pieces` id ranges of about as many events each (ids come in blocks, so equal
    id spans would not be equal work), each small enough that its digests sort in memory, and as many as a
    multiple of `multiple_of`."""
    pieces = max(pieces, -(-int(session.scalar(select(func.count()).select_from(EVENTS))) // RANGE_EVENTS))
    pieces = -(-pieces // multiple_of) * multiple_of
    bucket = func.ntile(pieces).over(order_by=EVENTS.c.id).label("bucket")
    numbered = select(EVENTS.c.id, bucket).subquery()
    statement = (
        select(func.min(numbered.c.id), func.max(numbered.c.id)).group_by(numbered.c.bucket).order_by(numbered.c.bucket)
    )
    return [(low, high) for low, high in session.execute(statement)]


def _worker_context() -> Any:
    # Forked workers start at once with everything imported; spawned ones would import the application
    # first (seconds of CPU each, more than the work at tens of thousands of events). Nothing here runs
    # threads, and a worker opens connections of its own and leaves the parent's alone.
    return get_context("fork" if "fork" in get_all_start_methods() else "spawn")


def verify_chain(
    session: Session,
    ring: KeyRing,
    progress: Callable[[int], None] | None = None,
    processes: int = 1,
    url: str | None = None,
    in_database: bool = True,
) -> tuple[int, ChainProblem | None]:
    """Verify every chain; return how many events were checked and the first problem (by organization, then
    number), if any. With `processes` > 1 and the database `url`, event ranges are checked in parallel on
    other connections (which see only committed data).

    On PostgreSQL (and with `in_database`), the database computes the MACs and digests and only the events
    it does not vouch for are checked here, by the same code as without it; the parallel ranges then go to
    threads, each with a connection, since the work is the database's. On SQLite, or where the connection
    cannot have a temporary table (a read-only transaction, a standby), Python checks every event (in forked
    processes when parallel)."""
    checked, problems = 0, []
    in_database = in_database and is_postgresql(session)
    # SQLite takes a file lock per transaction: other processes would only queue behind this one.
    parallel = processes > 1 and url is not None and is_postgresql(session)
    if parallel and in_database:
        # As few ranges as the memory allows, the same number per connection: each range's query reads the
        # parts it joins once (a hash of the parts table, at this size).
        ranges = _event_ranges(session, processes, multiple_of=processes)
        checked, problems = _verify_on_connections(
            url, ring, ranges, processes, progress, lambda: _link_problems(session)
        )
    elif parallel:
        # Several ranges per process, handed out as processes free up.
        ranges = _event_ranges(session, processes * RANGES_PER_PROCESS)
        with ProcessPoolExecutor(max_workers=processes, mp_context=_worker_context()) as pool:
            futures = [pool.submit(_verify_range, url, ring, low, high) for low, high in ranges]
            # The links are checked here meanwhile (the database does that work).
            problems.extend(_link_problems(session))
            for future in as_completed(futures):
                count, found = future.result()
                checked += count
                problems.extend(found)
                if progress is not None:
                    progress(count)
    else:
        problems.extend(_link_problems(session))
        ranges = _event_ranges(session, 1) if is_postgresql(session) else [_whole_range(session)]
        keys = in_database and _hand_over_keys(session, ring)
        try:
            for low, high in ranges:
                if low is None:
                    continue
                if keys:
                    count, found = _content_problems_in_database(session, ring, low, high)
                    if progress is not None:
                        progress(count)
                else:
                    count, found = _content_problems(session, ring, low, high, progress)
                checked += count
                problems.extend(found)
        finally:
            if keys:
                _drop_keys(session)
    first = min(problems, key=lambda problem: (problem.organization_id, problem.sequence), default=None)
    return checked, first


def _verify_on_connections(
    url: str,
    ring: KeyRing,
    ranges: list[tuple[int, int]],
    jobs: int,
    progress: Callable[[int], None] | None,
    meanwhile: Callable[[], list[ChainProblem]],
) -> tuple[int, list[ChainProblem]]:
    """Check the ranges' content on `jobs` connections of their own (one thread each, which mostly waits for
    its PostgreSQL backend), running `meanwhile` here; return the count and every problem found."""
    engine = make_engine(url, poolclass=NullPool)
    local, sessions = threading.local(), []

    def check(low: int, high: int) -> tuple[int, list[ChainProblem]]:
        if not hasattr(local, "session"):
            local.session = Session(engine)
            sessions.append(local.session)
            local.keys = _hand_over_keys(local.session, ring)
        if local.keys:
            return _content_problems_in_database(local.session, ring, low, high)
        return _content_problems(local.session, ring, low, high, None)

    checked, problems = 0, []
    try:
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(check, low, high) for low, high in ranges]
            problems.extend(meanwhile())
            for future in as_completed(futures):
                count, found = future.result()
                checked += count
                problems.extend(found)
                if progress is not None:
                    progress(count)
    finally:
        for opened in sessions:
            opened.close()  # rolls back: the keys' table goes with the transaction
        engine.dispose()
    return checked, problems


def _whole_range(session: Session) -> tuple[int | None, int | None]:
    return tuple(session.execute(select(func.min(EVENTS.c.id), func.max(EVENTS.c.id))).one())


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


def default_jobs(session: Session, events: int) -> int:
    """How many connections `milepost chain verify` checks `events` events on when not told: one per CPU this
    process may run on (up to DEFAULT_JOBS) on PostgreSQL from PARALLEL_FROM events on, else one. Measured on
    two cores: one connection verifies about 45,000 events/s, two about 55,000 (docs/scale.md)."""
    if not is_postgresql(session) or events < PARALLEL_FROM:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cpus, DEFAULT_JOBS))


def count_events(session: Session) -> int:
    """Return how many events the chains hold."""
    return int(session.scalar(select(func.coalesce(func.sum(ChainHead.sequence), 0))))
