"""Custody event input: what a request asks for, read and checked before anything is locked or written."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from app.db import utcnow
from app.errors import InvalidInput
from app.geo import parse_position
from app.signing import KeyRing
from traceability.codes import parse_digital_link, read_identifiers, tag_message
from traceability.models import EventType

MAX_REASON = 500


@dataclass
class EventRequest:
    """What a custody event asks for, as the API received it."""

    type: str
    parts: list = field(default_factory=list)
    to: str | None = None
    vin: str | None = None
    activation_code: str | None = None
    price: object | None = None
    buyer_phone: str | None = None
    occurred_at: datetime | None = None
    lat: object | None = None
    lon: object | None = None
    reason: str | None = None


def part_field(index: int) -> str:
    return f"parts[{index}]"


def read_part_references(ring: KeyRing, references: list, max_parts: int) -> list[tuple[str, str]]:
    """Turn `{gtin, serial}` objects or scanned URLs into distinct (gtin, serial) pairs, in request order."""
    if not references:
        raise InvalidInput("name at least one part", field="parts")
    if len(references) > max_parts:
        raise InvalidInput(
            "one event carries at most %(max_parts)s parts, not %(count)s",
            field="parts",
            max_parts=f"{max_parts:,}",
            count=f"{len(references):,}",
        )
    pairs: list[tuple[str, str]] = []
    seen: dict[tuple[str, str], int] = {}
    for index, reference in enumerate(references):
        name = part_field(index)
        try:
            if isinstance(reference, str):
                link = parse_digital_link(reference, field=name)
                if not ring.verify(tag_message(link.gtin, link.serial), link.tag):
                    raise InvalidInput("the code's tag is not valid: this label is not genuine", field=name)
            else:
                link = read_identifiers(reference.get("gtin", ""), reference.get("serial", ""), "")
        except InvalidInput as error:
            raise InvalidInput("%(field)s: %(error_message)s", field=name, error_message=error.message) from None
        pair = (link.gtin, link.serial)
        if pair in seen:
            raise InvalidInput("%(field)s repeats parts[%(value)s]", field=name, value=seen[pair])
        seen[pair] = index
        pairs.append(pair)
    return pairs


def read_occurred_at(value: datetime | None) -> tuple[datetime, int]:
    now = utcnow()
    if value is None:
        return now, 480
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(
            "occurred_at needs a UTC offset (ISO 8601, e.g. 2026-05-01T08:00:00+08:00)", field="occurred_at"
        )
    if value > now + timedelta(minutes=5):
        raise InvalidInput("occurred_at is in the future", field="occurred_at")
    if value < now - timedelta(days=365 * 30):
        raise InvalidInput("occurred_at is too far in the past", field="occurred_at")
    return value, int(value.utcoffset().total_seconds() // 60)


def read_reason(request: EventRequest, event_type: str) -> str | None:
    reason = (request.reason or "").strip()
    if event_type == EventType.REMOVE and not reason:
        raise InvalidInput("a removal names its reason", field="reason")
    if len(reason) > MAX_REASON:
        raise InvalidInput("the reason is at most %(max)s characters", field="reason", max=MAX_REASON)
    return reason or None


def read_position(request: EventRequest) -> tuple[float | None, float | None]:
    if request.lat is None and request.lon is None:
        return None, None
    if request.lat is None or request.lon is None:
        raise InvalidInput("give both lat and lon, or neither", field="lat" if request.lat is None else "lon")
    position = parse_position(request.lat, request.lon)
    return round(position.lat, 6), round(position.lon, 6)
