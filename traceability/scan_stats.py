"""The OEM's scan statistics: scans by province and verdict over a period."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from traceability.models import Scan


def scan_statistics(session: Session, since: datetime | None = None, until: datetime | None = None) -> dict:
    """Count scans per province and verdict (province "unknown" when the scan had no position)."""
    statement = select(Scan.province, Scan.verdict, func.count()).group_by(Scan.province, Scan.verdict)
    if since is not None:
        statement = statement.where(Scan.scanned_at >= since)
    if until is not None:
        statement = statement.where(Scan.scanned_at < until)
    provinces: dict[str, dict[str, int]] = {}
    totals: dict[str, int] = {}
    for province, verdict, count in session.execute(statement):
        provinces.setdefault(province or "unknown", {})[verdict] = count
        totals[verdict] = totals.get(verdict, 0) + count
    return {
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "totals": totals,
        "provinces": [{"province": name, "verdicts": counts} for name, counts in sorted(provinces.items())],
    }
