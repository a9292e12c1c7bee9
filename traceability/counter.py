"""The counter: many scanned or typed codes, one custody event, and an outcome for every code.

A person at a counter scans a pile of parts and submits them at once. Codes that cannot take part (unreadable,
not genuine, unknown, not held here, in the wrong state, recalled) are refused one by one with their reason and
nothing is written for them; the others go into one custody event (traceability.custody.record_event). Install
and remove name one part per event, so each of their codes is its own event, with its own activation code.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from typing import TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.models import Organization
from app.errors import Forbidden, InvalidInput, MilepostError, NotFound
from app.security import User
from app.signing import KeyRing
from traceability.codes import normalize_gtin, normalize_serial, parse_digital_link, tag_message
from traceability.custody import record_event
from traceability.custody_input import EventRequest
from traceability.custody_locks import load_parts
from traceability.custody_rules import check_transition
from traceability.models import CustodyEvent, EventType, Part
from traceability.settings import CustodyLimits

T = TypeVar("T")

# What the counter records; destroying stays with the API (and the OEM's tools).
ACTIONS = (
    EventType.RECEIVE,
    EventType.SHIP,
    EventType.SELL,
    EventType.INSTALL,
    EventType.REMOVE,
    EventType.INSPECT,
)
ONE_PART_ACTIONS = frozenset({EventType.INSTALL, EventType.REMOVE})
MAX_LINES = 500
# Error fields that name the whole event (a form field), not one code.
EVENT_FIELDS = frozenset({"to", "price", "buyer_phone", "vin", "reason", "type", "occurred_at", "lat", "lon"})


@dataclass
class CodeOutcome:
    """What happened to one line of the list: accepted into an event, or refused with a reason code."""

    line: int
    text: str
    gtin: str | None = None
    serial: str | None = None
    part_name_zh: str | None = None
    part_name_en: str | None = None
    accepted: bool = False
    event_id: int | None = None
    # A reason code (COUNTER_REASONS in the pages) and the details its words need.
    reason: str | None = None
    details: dict = field(default_factory=dict)
    error: MilepostError | None = None


@dataclass
class CounterRequest:
    """What the counter form asks for: the action, the list of codes and the event's own fields."""

    action: str
    lines: list[str]
    to: str | None = None
    price: str | None = None
    buyer_phone: str | None = None
    vin: str | None = None
    reason: str | None = None


@dataclass
class CounterResult:
    """Every code's outcome and the events written."""

    outcomes: list[CodeOutcome]
    events: list[CustodyEvent]

    @property
    def accepted(self) -> int:
        return sum(outcome.accepted for outcome in self.outcomes)

    @property
    def refused(self) -> int:
        return len(self.outcomes) - self.accepted


def split_lines(text: str) -> list[str]:
    """Return the non-empty lines of a pasted or typed list (commas and semicolons also separate codes)."""
    lines = []
    for raw in (text or "").replace("\r", "\n").split("\n"):
        for piece in raw.replace(";", ",").split(","):
            if piece.strip():
                lines.append(piece.strip())
    return lines


def _refuse(outcome: CodeOutcome, reason: str, error: MilepostError | None = None, **details: object) -> None:
    outcome.accepted = False
    outcome.reason = reason
    outcome.error = error
    outcome.details = {**(error.details if error else {}), **details}


def reason_of(error: MilepostError) -> str:
    """Return the counter's reason code for a refusal raised by the custody rules."""
    given = error.details.get("reason_code")
    if isinstance(given, str):
        return given
    if error.field == "activation_code":
        return "wrong_activation_code" if error.code == "wrong_secret" else "activation_code_missing"
    return {"forbidden": "not_holder", "not_found": "unknown_part", "rate_limited": "rate_limited"}.get(
        error.code, "refused"
    )


def _read_reference(session: Session, ring: KeyRing, code: str, outcome: CodeOutcome) -> tuple[str, str] | None:
    """Read a scanned URL, `gtin/serial` or a bare serial; refuse the outcome and return None if it cannot."""
    try:
        if "/01/" in code:
            link = parse_digital_link(code)
            if not ring.verify(tag_message(link.gtin, link.serial), link.tag):
                _refuse(outcome, "not_genuine")
                return None
            return link.gtin, link.serial
        if "/" in code:
            gtin, _, serial = code.partition("/")
            return normalize_gtin(gtin), normalize_serial(serial)
        serial = normalize_serial(code)
    except InvalidInput:
        _refuse(outcome, "unreadable")
        return None
    # A typed serial alone: the serial-first unique index finds it under whichever GTIN it has.
    candidates = list(session.execute(select(Part.gtin, Part.serial).where(Part.serial.in_({serial, serial.upper()}))))
    if not candidates:
        _refuse(outcome, "unknown_part")
        return None
    if len(candidates) > 1:
        _refuse(outcome, "ambiguous_serial")
        return None
    return candidates[0].gtin, candidates[0].serial


def read_outcomes(session: Session, ring: KeyRing, request: CounterRequest) -> list[tuple[CodeOutcome, str]]:
    """Return an outcome per line (refused ones already decided) with the activation code typed after it."""
    if request.action not in ACTIONS:
        raise InvalidInput("choose what to record", field="action")
    if not request.lines:
        raise InvalidInput("scan or type at least one code", field="codes")
    if len(request.lines) > MAX_LINES:
        raise InvalidInput("one list holds at most %(max)s codes", field="codes", max=MAX_LINES)
    read: list[tuple[CodeOutcome, str]] = []
    seen: dict[tuple[str, str], int] = {}
    for number, line in enumerate(request.lines, start=1):
        code, _, rest = line.partition(" ")
        outcome = CodeOutcome(line=number, text=code)
        pair = _read_reference(session, ring, code.strip(), outcome)
        if pair is not None:
            outcome.gtin, outcome.serial = pair
            if pair in seen:
                _refuse(outcome, "repeated", first=seen[pair])
            else:
                seen[pair] = number
        read.append((outcome, rest.strip()))
    return read


def record_counter_event(
    session: Session, ring: KeyRing, actor: User, request: CounterRequest, limits: CustodyLimits, client: str
) -> CounterResult:
    """Check every code on its own, then record one event for the codes that may take part in it.

    A refusal of the whole event (a form field such as the destination, the price or the VIN) is raised as the
    domain error naming that field, and nothing is written. A code's refusal never writes anything but what the
    custody rules keep on purpose (an alert about a used part offered as new, a counted wrong activation code).
    """
    _check_event_fields(request)
    read = read_outcomes(session, ring, request)
    pending = [(outcome, code) for outcome, code in read if outcome.reason is None]
    parts = _load_named(session, [outcome for outcome, _ in pending])
    for outcome, _ in pending:
        part = parts.get((outcome.gtin, outcome.serial))
        if part is None:
            _refuse(outcome, "unknown_part")
            continue
        outcome.part_name_zh, outcome.part_name_en = part.part_type.name_zh, part.part_type.name_en
        _check_one(session, actor, request.action, part, outcome, limits)
    ready = [(outcome, code) for outcome, code in pending if outcome.reason is None]
    events: list[CustodyEvent] = []
    if request.action in ONE_PART_ACTIONS:
        for outcome, code in ready:
            event = _record_one(session, ring, actor, request, [outcome], limits, client, code)
            if event is not None:
                events.append(event)
    elif ready:
        event = _record_together(session, ring, actor, request, [outcome for outcome, _ in ready], limits, client)
        if event is not None:
            events.append(event)
    return CounterResult([outcome for outcome, _ in read], events)


def _check_event_fields(request: CounterRequest) -> None:
    """Refuse a form that misses what its action needs before any code is looked at."""
    if request.action == EventType.SHIP and not (request.to or "").strip():
        raise InvalidInput("name the organization the parts go to", field="to")
    if request.action in ONE_PART_ACTIONS and not (request.vin or "").strip():
        raise InvalidInput("installation needs the vehicle's VIN", field="vin")
    if request.action == EventType.REMOVE and not (request.reason or "").strip():
        raise InvalidInput("a removal names its reason", field="reason")


def _load_named(session: Session, outcomes: list[CodeOutcome]) -> dict[tuple[str, str], Part]:
    """Lock the named parts in the custody rules' global order (the event locks them again in that order)."""
    wanted: list[tuple[str, str]] = [(str(outcome.gtin), str(outcome.serial)) for outcome in outcomes]
    if not wanted:
        return {}
    try:
        return dict(zip(wanted, load_parts(session, wanted), strict=True))
    except NotFound:
        # A part that vanished between reading and locking cannot happen today (parts are never deleted).
        return {}


def _check_one(
    session: Session, actor: User, action: str, part: Part, outcome: CodeOutcome, limits: CustodyLimits
) -> None:
    """Apply the custody rules to one part alone; a refusal keeps only what the rules keep on purpose."""
    organization = session.get(Organization, actor.organization_id) if actor.organization_id else None
    if organization is None:
        raise Forbidden("custody events are recorded by the staff of an organization")
    _result, error = _attempt(
        session, lambda: check_transition(session, action, [part], actor, organization, limits.timezone)
    )
    if error is not None:
        _refuse(outcome, reason_of(error), error, state=part.state)


def _attempt(session: Session, work: Callable[[], T]) -> tuple[T | None, MilepostError | None]:
    """Run `work` in a savepoint; on a domain error roll back to it, replay the error's kept writes, return it."""
    try:
        with session.begin_nested():
            return work(), None
    except MilepostError as error:
        for write in error.kept_writes:
            write(session)
        if error.kept_writes:
            session.flush()
        return None, error


def _event_request(request: CounterRequest, outcomes: list[CodeOutcome], code: str | None = None) -> EventRequest:
    price: object | None = None
    if request.action == EventType.SELL and request.price not in (None, ""):
        price = request.price if isinstance(request.price, Decimal) else str(request.price).strip()
    return EventRequest(
        type=request.action,
        parts=[{"gtin": outcome.gtin, "serial": outcome.serial} for outcome in outcomes],
        to=(request.to or "").strip() or None,
        vin=(request.vin or "").strip() or None,
        activation_code=code or None,
        price=price,
        buyer_phone=(request.buyer_phone or "").strip() or None,
        reason=(request.reason or "").strip() or None,
    )


def _record_one(session, ring, actor, request, outcomes, limits, client, code) -> CustodyEvent | None:
    """Record an install or remove of one part; a refusal of this part alone is its outcome."""
    event_request = _event_request(request, outcomes, code)
    event, error = _attempt(session, lambda: record_event(session, ring, actor, event_request, limits, client))
    if error is not None:
        # The vehicle's own refusals (unknown VIN, a bad form) end the form; "not on that vehicle" is this part's.
        if error.field in EVENT_FIELDS and not (error.field == "vin" and error.code == "conflict"):
            raise error
        _refuse(outcomes[0], reason_of(error), error)
        return None
    assert event is not None
    _accept(outcomes, event)
    return event


def _record_together(session, ring, actor, request, outcomes, limits, client) -> CustodyEvent | None:
    """Record one event for all the parts; a part the event still refuses (a race) is refused and left out."""
    remaining = list(outcomes)
    while remaining:
        event_request = _event_request(request, remaining)
        event, error = _attempt(session, partial(record_event, session, ring, actor, event_request, limits, client))
        if error is not None:
            index = _part_index(error.field)
            if index is None or index >= len(remaining):
                raise error
            _refuse(remaining.pop(index), reason_of(error), error)
            continue
        assert event is not None
        _accept(remaining, event)
        return event
    return None


def _part_index(name: str | None) -> int | None:
    if name and name.startswith("parts[") and name.endswith("]") and name[6:-1].isdigit():
        return int(name[6:-1])
    return None


def _accept(outcomes: list[CodeOutcome], event: CustodyEvent) -> None:
    for outcome in outcomes:
        outcome.accepted, outcome.event_id = True, event.id
