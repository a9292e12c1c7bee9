"""EPCIS 2.0 export: custody events as an `EPCISDocument` (JSON-LD, CBV vocabulary) for partners' systems.

Identifiers (all under PUBLIC_BASE_URL, documented in docs/traceability.md):
- parts: their GS1 Digital Link URI without the `?c=` tag (the tag is derived from our signing key and is
  what makes a label hard to copy, so it never leaves through this door);
- production lots (commissioning quantities): `{base}/01/{gtin}/10/{lot}`;
- organizations (readPoint, bizLocation, source and destination parties): `{base}/id/organization/{code}`;
- vehicles (parentID of install/remove AssociationEvents): `{base}/id/vehicle/{vin}`;
- events: `{base}/id/event/{hash}`, the event's hash in our custody chain.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session, joinedload

from app.errors import InvalidInput
from app.security import User, is_oem
from traceability.codes import build_part_uri, normalize_gtin, normalize_serial, parse_digital_link
from traceability.custody_history import price_text, select_part_event_ids
from traceability.custody_locks import LOOKUP_CHUNK
from traceability.custody_rules import BUSINESS_STEPS
from traceability.models import Batch, CustodyEvent, CustodyEventPart, EventType, Part, PartType

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/epcis-context.jsonld"
CBV_BIZSTEP_PREFIX = "https://ref.gs1.org/cbv/BizStep-"
BUSINESS_STEP_NAMES = frozenset({"commissioning", *BUSINESS_STEPS.values()})
# An event may name 10,000 parts: a page also ends once it lists this many EPCs (always at least one event).
MAX_EPCS_PER_PAGE = 50_000

# Our event types as EPCIS event types and actions. Installing binds parts to a vehicle: EPCIS 2.0's
# AssociationEvent (parentID = the vehicle, childEPCs = the parts; ADD to fit, DELETE to take off).
# Destroying ends an EPC's life: ObjectEvent DELETE. Commissioning creates EPCs: ObjectEvent ADD.
EVENT_SHAPES: dict[str, tuple[str, str]] = {
    EventType.COMMISSION: ("ObjectEvent", "ADD"),
    EventType.SHIP: ("ObjectEvent", "OBSERVE"),
    EventType.RECEIVE: ("ObjectEvent", "OBSERVE"),
    EventType.SELL: ("ObjectEvent", "OBSERVE"),
    EventType.INSPECT: ("ObjectEvent", "OBSERVE"),
    EventType.DESTROY: ("ObjectEvent", "DELETE"),
    EventType.INSTALL: ("AssociationEvent", "ADD"),
    EventType.REMOVE: ("AssociationEvent", "DELETE"),
}
# Where the parts are after the event: there a bizLocation is known; after shipping or selling it is not.
HAS_BIZ_LOCATION = frozenset(
    {EventType.COMMISSION, EventType.RECEIVE, EventType.INSPECT, EventType.INSTALL, EventType.REMOVE}
)


@dataclass(frozen=True)
class EpcisFilter:
    """What an EPCIS query asks for: one part, a time range, a business step, and where the last page ended."""

    gtin: str | None = None
    serial: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    business_step: str | None = None
    after_id: int = 0


def read_business_step(value: str | None) -> str | None:
    """Accept a CBV business step as its short name or its URI; anything else is a 400."""
    if value is None:
        return None
    name = value.removeprefix(CBV_BIZSTEP_PREFIX).removeprefix("urn:epcglobal:cbv:bizstep:")
    if name not in BUSINESS_STEP_NAMES:
        raise InvalidInput(f"biz_step must be one of {', '.join(sorted(BUSINESS_STEP_NAMES))}", field="biz_step")
    return name


def read_part_filter(uri: str | None, gtin: str | None, serial: str | None) -> tuple[str | None, str | None]:
    """Return the (gtin, serial) a query names by Digital Link URI or by both identifiers, or (None, None)."""
    if uri:
        link = parse_digital_link(uri, field="uri")
        return link.gtin, link.serial
    if gtin is None and serial is None:
        return None, None
    if not gtin or not serial:
        raise InvalidInput("give both gtin and serial, or a Digital Link uri", field="serial" if gtin else "gtin")
    return normalize_gtin(gtin), normalize_serial(serial)


def read_time(value: datetime | None, field: str) -> datetime | None:
    """Refuse times without an offset: an EPCIS query window must be unambiguous."""
    if value is not None and value.tzinfo is None:
        raise InvalidInput("give the time with its offset, e.g. 2026-05-01T08:00:00+08:00", field=field)
    return value


def read_page_token(token: str | None) -> int:
    """Return the event id a `next_page_token` continues after (0: from the start)."""
    if token is None:
        return 0
    if not token.isdigit() or len(token) > 18:
        raise InvalidInput("not a page token from this server", field="next_page_token")
    return int(token)


def select_visible_events(session: Session, actor: User, query: EpcisFilter) -> Select | None:
    """Return the events the actor may read that match the query, in the order they were stored (by id: each
    organization has its own chain, so there is no one chain order); None when none can match.

    The OEM reads every event; an organization reads the events it took part in (as the acting
    organization or the destination), whichever parts they name.
    """
    statement = select(CustodyEvent).where(CustodyEvent.id > query.after_id)
    if not is_oem(actor):
        if actor.organization_id is None:
            return None
        statement = statement.where(
            or_(
                CustodyEvent.organization_id == actor.organization_id,
                CustodyEvent.destination_id == actor.organization_id,
            )
        )
    if query.gtin is not None:
        part = session.execute(
            select(Part.id, Part.batch_id).where(Part.gtin == query.gtin, Part.serial == query.serial)
        ).first()
        if part is None:
            return None
        statement = statement.where(CustodyEvent.id.in_(select_part_event_ids(part.id, part.batch_id)))
    if query.since is not None:
        statement = statement.where(CustodyEvent.occurred_at >= query.since)
    if query.until is not None:
        statement = statement.where(CustodyEvent.occurred_at < query.until)
    if query.business_step is not None:
        statement = statement.where(CustodyEvent.business_step == query.business_step)
    return statement.order_by(CustodyEvent.id)


def list_events_page(
    session: Session, actor: User, query: EpcisFilter, per_page: int
) -> tuple[list[CustodyEvent], int | None]:
    """Return one page of matching events and the id to continue after (None on the last page)."""
    statement = select_visible_events(session, actor, query)
    if statement is None:
        return [], None
    options = (joinedload(CustodyEvent.organization), joinedload(CustodyEvent.destination))
    rows = list(session.scalars(statement.options(*options, joinedload(CustodyEvent.vehicle)).limit(per_page + 1)))
    page: list[CustodyEvent] = []
    epcs = 0
    for event in rows[:per_page]:
        named = 0 if event.event_type == EventType.COMMISSION else event.part_count
        if page and epcs + named > MAX_EPCS_PER_PAGE:
            break
        page.append(event)
        epcs += named
    more = len(page) < len(rows)
    return page, page[-1].id if more else None


def _event_epcs(session: Session, base_url: str, events: list[CustodyEvent]) -> dict[int, list[str]]:
    ids = [event.id for event in events if event.event_type != EventType.COMMISSION]
    epcs: dict[int, list[str]] = defaultdict(list)
    if not ids:
        return epcs
    # Two lookups by key rather than a join: on small tables the planner would rather join by reading the
    # parts table whole, and a page names at most MAX_EPCS_PER_PAGE parts.
    named = session.execute(
        select(CustodyEventPart.event_id, CustodyEventPart.part_id).where(CustodyEventPart.event_id.in_(ids))
    ).all()
    part_ids = sorted({part_id for _event, part_id in named})
    codes: dict[int, tuple[str, str]] = {}
    for start in range(0, len(part_ids), LOOKUP_CHUNK):
        chunk = part_ids[start : start + LOOKUP_CHUNK]
        rows = session.execute(select(Part.id, Part.gtin, Part.serial).where(Part.id.in_(chunk)))
        codes.update((part_id, (gtin, serial)) for part_id, gtin, serial in rows)
    for event_id, part_id in sorted(named, key=lambda row: (row[0], codes[row[1]][1])):
        epcs[event_id].append(build_part_uri(base_url, *codes[part_id]))
    return epcs


def _batches(session: Session, events: list[CustodyEvent]) -> dict[int, tuple[Batch, str]]:
    ids = {event.batch_id for event in events if event.event_type == EventType.COMMISSION}
    if not ids:
        return {}
    rows = session.execute(select(Batch, PartType.gtin).join(PartType).where(Batch.id.in_(ids)))
    return {batch.id: (batch, gtin) for batch, gtin in rows}


def organization_uri(base_url: str, code: str) -> str:
    """Return an organization's identifier in EPCIS documents."""
    return f"{base_url.rstrip('/')}/id/organization/{code}"


def vehicle_uri(base_url: str, vin: str) -> str:
    """Return a vehicle's identifier in EPCIS documents."""
    return f"{base_url.rstrip('/')}/id/vehicle/{vin}"


def lot_uri(base_url: str, gtin: str, lot: str) -> str:
    """Return a production lot's Digital Link URI (GS1 AI 10): the class of a commissioning quantity."""
    return f"{base_url.rstrip('/')}/01/{gtin}/10/{lot}"


def format_offset(minutes: int) -> str:
    """Render an offset east of UTC as EPCIS eventTimeZoneOffset (`+08:00`)."""
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours:02d}:{rest:02d}"


def event_to_epcis(
    event: CustodyEvent,
    base_url: str,
    epcs: list[str],
    batch: tuple[Batch, str] | None = None,
    part_uri: str | None = None,
) -> dict:
    """Render one custody event as an EPCIS 2.0 event (CBV short names for bizStep and disposition)."""
    event_type, action = EVENT_SHAPES[event.event_type]
    organization = organization_uri(base_url, event.organization.code)
    body: dict = {
        "type": event_type,
        "eventID": f"{base_url.rstrip('/')}/id/event/{event.hash}",
        "eventTime": event.occurred_at.astimezone(timezone(timedelta(minutes=event.occurred_offset_minutes))).isoformat(
            timespec="milliseconds"
        ),
        "eventTimeZoneOffset": format_offset(event.occurred_offset_minutes),
        "recordTime": event.recorded_at.astimezone(UTC).isoformat(timespec="milliseconds"),
        "action": action,
    }
    if event_type == "AssociationEvent":
        body["parentID"] = vehicle_uri(base_url, event.vehicle.vin)
        body["childEPCs"] = epcs
    elif event.event_type == EventType.COMMISSION:
        batch_row, gtin = batch
        # A batch may hold a million parts: the commissioning event states their lot and count, and names
        # one part only when the query asked about that part.
        body["epcList"] = [part_uri] if part_uri else []
        body["quantityList"] = [{"epcClass": lot_uri(base_url, gtin, batch_row.lot), "quantity": event.part_count}]
    else:
        body["epcList"] = epcs
    body["bizStep"] = event.business_step
    body["disposition"] = event.disposition
    body["readPoint"] = {"id": organization}
    if event.event_type in HAS_BIZ_LOCATION:
        body["bizLocation"] = {"id": organization}
    if event.destination is not None:
        body["sourceList"] = [{"type": "possessing_party", "source": organization}]
        destination = organization_uri(base_url, event.destination.code)
        body["destinationList"] = [{"type": "possessing_party", "destination": destination}]
    if event.event_type == EventType.COMMISSION:
        batch_row, _ = batch
        body["ilmd"] = {
            "cbvmda:lotNumber": batch_row.lot,
            "milepost:productionDate": batch_row.production_date.isoformat(),
            "milepost:productionLine": batch_row.production_line,
            "milepost:qcResult": batch_row.qc_result,
        }
    if event.price is not None:
        body["milepost:price"] = {"value": price_text(event.price), "currency": "CNY"}
    body["milepost:sequence"] = event.sequence
    body["milepost:previousHash"] = event.previous_hash
    return body


def build_epcis_document(
    session: Session,
    events: list[CustodyEvent],
    base_url: str,
    now: datetime,
    part: tuple[str, str] | None = None,
) -> dict:
    """Return the EPCISDocument (JSON-LD) for these events; `part` is the (gtin, serial) a query named."""
    epcs = _event_epcs(session, base_url, events)
    batches = _batches(session, events)
    part_uri = build_part_uri(base_url, *part) if part else None
    return {
        "@context": [EPCIS_CONTEXT, {"milepost": f"{base_url.rstrip('/')}/ns/epcis#"}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": now.astimezone(UTC).isoformat(timespec="milliseconds"),
        "epcisBody": {
            "eventList": [
                event_to_epcis(event, base_url, epcs.get(event.id, []), batches.get(event.batch_id), part_uri)
                for event in events
            ]
        },
    }
