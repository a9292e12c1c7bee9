"""Custody events: validate an event against every part it names, then apply it to all of them, or to none.

The parts of the operation live beside it: request parsing (custody_input), the global-order part locks
(custody_locks), the state machine and who may act (custody_rules), what each event type does (custody_appliers)
and the read side (custody_history)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.crm.activity import record_activity
from app.crm.models import Organization
from app.db import utcnow
from app.errors import Forbidden, InvalidInput
from app.security import User
from app.signing import KeyRing
from traceability.catalogue import parse_money
from traceability.chain import append_event, parts_digest
from traceability.custody_appliers import APPLIERS, EventContext, record_event_effects
from traceability.custody_input import EventRequest, read_occurred_at, read_part_references, read_position, read_reason
from traceability.custody_locks import load_parts
from traceability.custody_rules import BUSINESS_STEPS, CORRECTIONS, DISPOSITIONS, TRANSITIONS, check_transition
from traceability.models import CustodyEvent, EventType, Part, PartState
from traceability.settings import CustodyLimits

# Places kept per part for the far-from-chain check (parts.chain_places); a real chain names a handful.
MAX_CHAIN_PLACES = 64
# Parts named in one activity entry (the event itself names them all).
ACTIVITY_PARTS = 50


def _actor_organization(session: Session, actor: User) -> Organization:
    organization = session.get(Organization, actor.organization_id) if actor.organization_id else None
    if organization is None:
        raise Forbidden("custody events are recorded by the staff of an organization")
    return organization


def record_event(
    session: Session, ring: KeyRing, actor: User, request: EventRequest, limits: CustodyLimits, client: str
) -> CustodyEvent:
    """Validate a custody event against every part it names, then apply it to all of them, or to none."""
    if request.type not in TRANSITIONS:
        raise InvalidInput(f"type is one of {', '.join(TRANSITIONS)}", field="type")
    event_type = EventType(request.type)
    organization = _actor_organization(session, actor)
    occurred_at, offset = read_occurred_at(request.occurred_at)
    lat, lon = read_position(request)
    price = parse_money(request.price, "price") if request.price is not None else None
    if price is not None and event_type != EventType.SELL:
        raise InvalidInput("a price belongs to a sell event", field="price")
    pairs = read_part_references(ring, request.parts, limits.max_parts)
    if event_type in (EventType.INSTALL, EventType.REMOVE) and len(pairs) != 1:
        raise InvalidInput("%(event_type)s names exactly one part", field="parts", event_type=event_type)
    parts = load_parts(session, pairs)
    check_transition(session, event_type, parts, actor, organization, limits.timezone)
    # After the holder check: a stranger learns only that it does not hold the part.
    reason = read_reason(request, event_type)

    event = CustodyEvent(
        event_type=event_type,
        business_step=BUSINESS_STEPS[event_type],
        occurred_at=occurred_at,
        occurred_offset_minutes=offset,
        organization_id=organization.id,
        user_id=actor.id,
        lat=lat,
        lon=lon,
        price=price,
        part_count=len(parts),
        parts_digest=parts_digest(f"{gtin}|{serial}" for gtin, serial in pairs),
    )
    context = EventContext(session, ring, actor, organization, parts, event, request, limits, client)
    changes = APPLIERS[event_type](context)
    target = TRANSITIONS[event_type][1]
    event.disposition = DISPOSITIONS[PartState(target or parts[0].state)]
    # The rows naming the parts go in in their lines' order: `chain verify`'s sort of them then finds them presorted.
    in_line_order = sorted(parts, key=lambda part: f"{part.gtin}|{part.serial}")
    append_event(session, ring, event, [part.id for part in in_line_order])
    now = utcnow()
    places = _event_places(session, event, organization)
    # Plain attribute changes: the flush groups them into one executemany UPDATE per set of columns.
    for part in parts:
        for name, value in changes(part).items():
            setattr(part, name, value)
        part.updated_at = now
        _keep_chain_places(part, places)
        if event_type == EventType.SELL and (part.sold_at is None or occurred_at >= part.sold_at):
            part.sold_at, part.sold_by_id = occurred_at, organization.id
    record_event_effects(session, event, parts, organization)
    session.flush()
    if event_type in CORRECTIONS:
        record_activity(
            session,
            actor,
            f"traceability.part_{event_type}",
            "custody_event",
            event.id,
            parts=[f"{gtin}|{serial}" for gtin, serial in pairs[:ACTIVITY_PARTS]],
            part_count=len(pairs),
            vehicle_id=event.vehicle_id,
            **({"reason": reason} if reason else {}),
        )
    return event


def _event_places(session: Session, event: CustodyEvent, organization: Organization) -> list[list[float]]:
    """Return where an event takes its parts: the acting organization and its destination, where located."""
    named = [organization]
    if event.destination_id is not None:
        named.append(session.get(Organization, event.destination_id))
    return [[round(place.lat, 4), round(place.lon, 4)] for place in named if place.lat is not None]


def _keep_chain_places(part: Part, places: list[list[float]]) -> None:
    """Add an event's places to the part's kept chain places (read by the far-from-chain check)."""
    kept = list(part.chain_places or [])
    added = [place for place in places if place not in kept]
    if added:
        part.chain_places = (kept + added)[-MAX_CHAIN_PLACES:]
