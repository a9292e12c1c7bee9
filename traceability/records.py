"""Part records: the full record for the organizations that held a part, the public custody summary,
recorded sale prices, and what is installed on a vehicle."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from itertools import groupby
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, or_, select
from sqlalchemy.orm import Session, joinedload

from app.clock import local_date
from app.crm.models import Vehicle
from app.db import utcnow
from app.errors import NotFound
from app.security import User, is_oem
from traceability.codes import normalize_gtin, normalize_serial
from traceability.custody_history import (
    event_to_dict,
    list_part_events,
    list_part_journey,
    list_vehicle_installations,
)
from traceability.driver_sql import DriverStatement
from traceability.models import CustodyEvent, CustodyEventPart, Installation, Part, Sale, SalePriceRange
from traceability.scan_render import warranty_status
from traceability.scan_storage import ScannedPart
from traceability.scans import find_part
from traceability.verdicts import ScanOutcome

# Price ranges use the most recent sales only: old prices say little about today's market.
PRICE_SAMPLE = 2000
MIN_PRICES_FOR_RANGE = 3


def may_see_part_record(session: Session, actor: User, part: Part) -> bool:
    """The OEM sees every part; an organization sees the parts it made, held, shipped, received or fitted."""
    if is_oem(actor):
        return True
    organization_id = actor.organization_id
    if organization_id is None:
        return False
    if part.batch.factory_id == organization_id or part.holder_id == organization_id:
        return True
    named = select(CustodyEventPart.event_id).where(CustodyEventPart.part_id == part.id)
    involved = select(CustodyEvent.id).where(
        CustodyEvent.id.in_(named),
        or_(CustodyEvent.organization_id == organization_id, CustodyEvent.destination_id == organization_id),
    )
    return session.scalar(involved.limit(1)) is not None


def get_part_record(session: Session, actor: User, gtin: str, serial: str) -> dict:
    """Return a part's full record with its event history, or 404 when it is unknown or not the actor's to see."""
    part = find_part(session, normalize_gtin(gtin), normalize_serial(serial))
    if part is None or not may_see_part_record(session, actor, part):
        raise NotFound("no such part among those you may see", field="serial")
    installations = session.scalars(
        select(Installation).options(joinedload(Installation.vehicle)).where(Installation.part_id == part.id)
    ).all()
    return {
        "gtin": part.gtin,
        "serial": part.serial,
        "part_number": part.part_type.part_number,
        "state": part.state,
        "holder": part.holder.code if part.holder else None,
        "in_transit_to": part.destination.code if part.destination else None,
        "lot": part.batch.lot,
        "factory": part.batch.factory.code,
        "production_date": part.batch.production_date.isoformat(),
        "recall": part.recall.code if part.recall else None,
        "activated_at": part.activated_at.isoformat() if part.activated_at else None,
        "installations": [
            {
                "vin": installation.vehicle.vin,
                "organization": installation.organization.code,
                "installed_at": installation.installed_at.isoformat(),
                "removed_at": installation.removed_at.isoformat() if installation.removed_at else None,
            }
            for installation in installations
        ],
        "events": [event_to_dict(event) for event in list_part_events(session, part)],
    }


def custody_summary(
    session: Session, part: Part | ScannedPart, config_or_tz: Mapping[str, Any] | str | None = None
) -> list[dict]:
    """Return the public custody story: stage, local date (configured TIMEZONE) and city of each event (never
    people or prices)."""
    return _summary(list_part_journey(session, part.id, part.batch_id, _commissioned(part)), config_or_tz)


def _summary(journey: list, config_or_tz: Mapping[str, Any] | str | None) -> list[dict]:
    return [
        {
            "stage": event.business_step,
            "date": local_date(event.occurred_at, config_or_tz).isoformat(),
            "city": event.city,
            "kind": event.kind,
        }
        for event in journey
    ]


def _commissioned(part: Part | ScannedPart):
    return part.commissioned_at if isinstance(part, ScannedPart) else part.batch.commissioned_at


def percentile(values: list[Decimal], fraction: float) -> Decimal:
    """Return the `fraction` percentile of sorted `values` by linear interpolation."""
    position = (len(values) - 1) * fraction
    low = int(position)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * Decimal(str(position - low))


def compute_sale_price_ranges(session: Session) -> dict[int, dict]:
    """Return the 10th-90th percentile of each part type's recent recorded sale prices, with the count."""
    recent = (
        select(
            Sale.part_type_id,
            Sale.price,
            func.row_number().over(partition_by=Sale.part_type_id, order_by=Sale.sold_at.desc()).label("newness"),
        )
        .where(Sale.price.is_not(None))
        .subquery()
    )
    rows = session.execute(
        select(recent.c.part_type_id, recent.c.price)
        .where(recent.c.newness <= PRICE_SAMPLE)
        .order_by(recent.c.part_type_id, recent.c.price)
        .execution_options(yield_per=10_000)
    )
    ranges: dict[int, dict] = {}
    for part_type_id, group in groupby(rows, key=lambda row: row.part_type_id):
        prices = [row.price for row in group]
        if len(prices) >= MIN_PRICES_FOR_RANGE:
            ranges[part_type_id] = {
                "p10": percentile(prices, 0.1),
                "p90": percentile(prices, 0.9),
                "sales": len(prices),
            }
    return ranges


def refresh_sale_price_ranges(session: Session) -> int:
    """Recompute the kept sale-price ranges of every part type (a periodic job); return how many are kept."""
    ranges = compute_sale_price_ranges(session)
    now = utcnow()
    session.execute(delete(SalePriceRange))
    if ranges:
        session.execute(
            insert(SalePriceRange),
            [{"part_type_id": key, **values, "refreshed_at": now} for key, values in ranges.items()],
        )
    session.flush()
    return len(ranges)


# One row by its primary key, straight on the driver: the scan page reads it on every view.
PRICE_RANGE = DriverStatement(
    select(SalePriceRange.p10, SalePriceRange.p90, SalePriceRange.sales).where(
        SalePriceRange.part_type_id == bindparam("part_type_id")
    )
)


def sale_price_range(session: Session, part_type_id: int) -> dict | None:
    """Return the kept 10th-90th percentile of recent sale prices of a part type, with the count."""
    return _price_range(PRICE_RANGE.first(session, {"part_type_id": part_type_id}))


def _price_range(kept: Any) -> dict | None:
    if kept is None or kept.p10 is None:
        return None
    return {"p10": f"{kept.p10:.2f}", "p90": f"{kept.p90:.2f}", "sales": kept.sales}


def scan_page_records(
    session: Session, outcome: ScanOutcome, config_or_tz: Mapping[str, Any] | str | None = None
) -> tuple[dict | None, list[dict]]:
    """Return what the scan page shows besides the verdict: the part type's kept sale-price range and the
    custody summary (nothing for a code judged counterfeit). The scan read them already when it could
    (`verify_scan`'s page, PostgreSQL); otherwise two more statements."""
    part = outcome.part
    if part is None:
        return None, []
    if outcome.page is not None:
        return _price_range(outcome.page.kept), _summary(outcome.page.journey, config_or_tz)
    return sale_price_range(session, part.part_type_id), custody_summary(session, part, config_or_tz)


def list_vehicle_parts(session: Session, vehicle: Vehicle, today: date, zone: str | None = None) -> list[dict]:
    """Return the parts installed on a vehicle with where and when they were fitted, their warranty (counted as
    the scan page counts it, from the installation) and the notice of any recall they are under."""
    return [
        _installed_part_to_dict(installation, today, zone)
        for installation in list_vehicle_installations(session, vehicle)
    ]


def _installed_part_to_dict(installation: Installation, today: date, zone: str | None) -> dict:
    part = installation.part
    recall = part.recall
    return {
        "gtin": part.gtin,
        "serial": part.serial,
        "part_number": part.part_type.part_number,
        "name_zh": part.part_type.name_zh,
        "name_en": part.part_type.name_en,
        "installed_at": installation.installed_at.isoformat(),
        "installed_by": installation.organization.code,
        "installed_by_name": installation.organization.name,
        "recalled": recall is not None,
        "recall": (
            {"code": recall.code, "notice_zh": recall.notice_zh, "notice_en": recall.notice_en} if recall else None
        ),
        "warranty": warranty_status(part.part_type.warranty_months, installation.installed_at, today, zone),
    }
