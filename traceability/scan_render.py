"""Rendering of a scan's verdict: the JSON of the public URL and POST /api/v1/scans, from the scan's one read."""

from __future__ import annotations

from datetime import date, datetime

from app.clock import local_date
from traceability.models import PartState
from traceability.scan_storage import ScannedPart
from traceability.verdicts import ScanOutcome


def _standing(part: ScannedPart, prefix: str) -> dict:
    rating = getattr(part, f"{prefix}_rating")
    return {
        "name": getattr(part, f"{prefix}_name"),
        "city": getattr(part, f"{prefix}_city"),
        "rating": float(rating) if rating is not None else None,
        "rating_count": getattr(part, f"{prefix}_rating_count"),
        "certification_tier": getattr(part, f"{prefix}_certification_tier"),
    }


def add_months(start: date, months: int) -> date:
    """Return the same day `months` later (the month's last day when it is shorter)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    for day in (start.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def warranty_status(
    warranty_months: int, started: datetime | None, today: date, zone: str | None = None
) -> dict | None:
    """Return the warranty period, counted from the local date (configured TIMEZONE `zone`) of installation or
    else of sale (`started`); None before either."""
    if started is None:
        return None
    start = local_date(started, zone)
    until = add_months(start, warranty_months)
    return {"from": start.isoformat(), "until": until.isoformat(), "active": today <= until}


def mask_vin(vin: str) -> str:
    """Show a VIN as its maker code and last four characters."""
    return vin[:3] + "*" * (len(vin) - 7) + vin[-4:]


def outcome_to_dict(outcome: ScanOutcome, today: date, zone: str | None = None) -> dict:
    """Render the verdict JSON (the same for the public URL and POST /api/v1/scans) from the scan's one read."""
    body: dict = {
        "verdict": outcome.verdict,
        "reasons": outcome.reasons,
        "scanned_at": outcome.scanned_at.isoformat(),
    }
    part = outcome.part
    if part is None:
        body["part"] = None
        return body
    installed = part.state == PartState.INSTALLED and part.installed_at is not None
    body["part"] = {
        "gtin": part.gtin,
        "serial": part.serial,
        "part_number": part.part_number,
        "name_zh": part.name_zh,
        "name_en": part.name_en,
        "category": part.category,
        "guide_price": f"{part.guide_price:.2f}",
        "state": part.state,
    }
    body["factory_record"] = {
        "factory": part.factory_name,
        "city": part.factory_city,
        "lot": part.lot,
        "production_date": part.production_date.isoformat(),
        "production_line": part.production_line,
        "qc_result": part.qc_result,
    }
    body["recall"] = (
        {"code": part.recall_code, "notice_zh": part.recall_notice_zh, "notice_en": part.recall_notice_en}
        if part.recall_code is not None
        else None
    )
    started = part.installed_at if installed else part.sold_at
    body["warranty"] = warranty_status(part.warranty_months, started, today, zone)
    body["installed"] = (
        {
            "vin": mask_vin(part.vin),
            "installed_at": part.installed_at.isoformat(),
            "shop": part.shop_name,
            "city": part.shop_city,
            "installer": _standing(part, "shop"),
        }
        if installed
        else None
    )
    body["seller"] = _standing(part, "seller") if part.sold_at is not None else None
    return body
