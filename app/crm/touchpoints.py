"""Touchpoints: every domain records here when a person shows intent; the leads domain above turns them into leads.

Lower domains may not import the leads domain, so this is the one door: `record_touchpoint(...)`. It never
fails the caller's operation for want of a phone (a touchpoint nobody can follow up is simply not written).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from app.crm.identifiers import normalize_vin
from app.crm.models import ConsentBasis, Customer, Organization, Touchpoint, Vehicle
from app.crm.regions import parse_province
from app.db import stamp_once, utcnow
from app.errors import InvalidInput, MilepostError
from app.phones import normalize_phone


class Channel(StrEnum):
    """Where a touchpoint came from."""

    SCAN = "scan"
    BOOKING = "booking"
    ROADSIDE = "roadside"
    SERVICE_REQUEST = "service_request"
    FORUM = "forum"
    SHOP_REFERRAL = "shop_referral"
    WALK_IN = "walk_in"
    IMPORT = "import"
    CAMPAIGN = "campaign"
    MAINTENANCE = "maintenance"


CHANNELS = frozenset(Channel)


def record_touchpoint(
    session: Session,
    *,
    channel: str,
    kind: str,
    source_type: str,
    source_id: object,
    phone: str | None = None,
    customer: Customer | None = None,
    vehicle: Vehicle | None = None,
    vin: str | None = None,
    province: str | None = None,
    city: str | None = None,
    summary: str = "",
    consent_basis: str = ConsentBasis.SERVICE,
    consent_topic: str = "",
    consent_text_version: str | None = None,
    occurred_at: datetime | None = None,
    organization: Organization | None = None,
) -> Touchpoint | None:
    """Record that a person (by phone or customer) showed intent through `channel`; None when nobody is reachable.

    `organization` is the one the person asked to hear from (the dealer a shop refers them to, ...), if any.
    """
    if channel not in CHANNELS:
        raise InvalidInput("unknown channel %(channel)s", field="channel", channel=str(channel)[:30])
    if consent_basis not in ConsentBasis.__members__.values():
        raise InvalidInput("unknown consent basis", field="consent_basis")
    if consent_basis == ConsentBasis.MARKETING and not consent_text_version:
        # The proof of a marketing opt-in is the text the person agreed to.
        raise InvalidInput("a marketing opt-in needs the consent text's version", field="consent_text_version")
    phone = phone or (customer.phone if customer is not None else None)
    if not phone:
        return None
    if vehicle is not None:
        vin = vehicle.vin
        province = province or vehicle.province
    touchpoint = Touchpoint(
        phone=phone,
        customer_id=customer.id if customer is not None else None,
        vehicle_id=vehicle.id if vehicle is not None else None,
        vin=vin,
        channel=channel,
        kind=kind[:40],
        source_type=source_type[:40],
        source_id=str(source_id)[:60],
        province=province,
        city=city,
        summary=summary[:200],
        consent_basis=consent_basis,
        consent_topic=(consent_topic or kind)[:40],
        consent_text_version=consent_text_version,
        organization_id=organization.id if organization is not None else None,
        occurred_at=occurred_at or utcnow(),
    )
    session.add(touchpoint)
    session.flush()
    return touchpoint


def select_unprocessed(limit: int = 500) -> Select:
    """Return the oldest touchpoints no reader has taken in yet."""
    return select(Touchpoint).where(Touchpoint.processed_at.is_(None)).order_by(Touchpoint.id).limit(limit)


def mark_processed(session: Session, touchpoint: Touchpoint, now: datetime) -> bool:
    """Claim a touchpoint for processing (one conditional UPDATE); tell whether this caller got it."""
    return stamp_once(session, touchpoint, "processed_at", now)


IMPORT_COLUMNS = (
    "phone", "vin", "kind", "province", "city", "summary", "consent_basis", "consent_text_version", "occurred_at",
)  # fmt: skip
IMPORT_MAX_ROWS = 200_000
IMPORT_CHUNK = 1000


def read_import_rows(text: str) -> list[dict[str, str]]:
    """Read a touchpoints CSV (a header row naming at least `phone`); row numbers are the file's line numbers."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "phone" not in reader.fieldnames:
        raise InvalidInput("the CSV needs a header row with at least phone", field="file")
    unknown = sorted(set(reader.fieldnames) - set(IMPORT_COLUMNS))
    if unknown:
        raise InvalidInput("unknown column %(column)s", field="file", column=unknown[0][:40])
    rows = [{key: (value or "").strip() for key, value in row.items() if key} for row in reader]
    if len(rows) > IMPORT_MAX_ROWS:
        raise InvalidInput("import at most %(count)s rows at once", field="file", count=f"{IMPORT_MAX_ROWS:,}")
    return rows


def _import_fields(row: dict[str, str], at: datetime) -> dict:
    """Check one row and return its record_touchpoint arguments (raising InvalidInput naming the column)."""
    basis = row.get("consent_basis") or ConsentBasis.SERVICE
    if basis not in ConsentBasis.__members__.values():
        raise InvalidInput("consent_basis is service, marketing or none", field="consent_basis")
    province = parse_province(row["province"]) if row.get("province") else None
    occurred = at
    if row.get("occurred_at"):
        try:
            occurred = datetime.fromisoformat(row["occurred_at"])
        except ValueError:
            raise InvalidInput("occurred_at is an ISO 8601 time with offset", field="occurred_at") from None
        if occurred.tzinfo is None:
            raise InvalidInput("occurred_at is an ISO 8601 time with offset", field="occurred_at")
    return {
        "phone": normalize_phone(row.get("phone", "")),
        "vin": normalize_vin(row["vin"]) if row.get("vin") else None,
        "kind": (row.get("kind") or "parts")[:40],
        "province": province,
        "city": (row.get("city") or None),
        "summary": (row.get("summary") or "imported")[:200],
        "consent_basis": basis,
        "consent_text_version": row.get("consent_text_version") or None,
        "occurred_at": occurred,
    }


def import_touchpoints(
    session: Session,
    rows: list[dict[str, str]],
    source: str,
    now: datetime,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write one import touchpoint per row, or none: every bad row is reported with its line number."""
    checked, errors = [], []
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        try:
            fields = _import_fields(row, now)
            if fields["consent_basis"] == ConsentBasis.MARKETING and not fields["consent_text_version"]:
                raise InvalidInput("a marketing opt-in needs the consent text's version", field="consent_text_version")
            checked.append((line, fields))
        except MilepostError as error:
            errors.append({"row": line, "field": error.field, "message": error.message})
    if errors:
        raise InvalidInput(
            "%(count)s of %(total)s rows have errors; nothing was imported",
            field="file", errors=errors[:200], count=len(errors), total=len(rows),
        )  # fmt: skip
    customers = _by_key(session, Customer, Customer.phone, {fields["phone"] for _line, fields in checked})
    vehicles = _by_key(session, Vehicle, Vehicle.vin, {fields["vin"] for _line, fields in checked if fields["vin"]})
    for done, (line, fields) in enumerate(checked, start=1):
        record_touchpoint(
            session, channel=Channel.IMPORT, source_type="import", source_id=f"{source}:{line}"[-60:],
            customer=customers.get(fields["phone"]), vehicle=vehicles.get(fields["vin"]), **fields,
        )  # fmt: skip
        if progress is not None and (done % IMPORT_CHUNK == 0 or done == len(checked)):
            progress(done, len(checked))
    return len(checked)


def _by_key(session: Session, model: type, column, keys: set[str]) -> dict:
    """Return the rows of `model` whose `column` is one of `keys`, by that key (queried a thousand at a time)."""
    found: dict = {}
    ordered = sorted(keys)
    for start in range(0, len(ordered), IMPORT_CHUNK):
        for row in session.scalars(select(model).where(column.in_(ordered[start : start + IMPORT_CHUNK]))):
            found[getattr(row, column.key)] = row
    return found
