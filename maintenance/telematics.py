"""Telematics import: odometer (and engine-hours) readings from JT/T 808 position reports, one CSV row per report.

JT/T 808's location report (0x0200) carries the mileage as additional item 0x01, a DWORD in 1/10 km; gateways
export it as `vin,reported_at,mileage` (optionally `engine_hours`). A truck reports every 30 seconds while it
moves, so only its last report of each local day becomes a reading. Rows that cannot be used are reported with
their line numbers and skipped; the rest are recorded.
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.models import Vehicle
from app.errors import InvalidInput
from maintenance.meters import MAX_VALUE, record_reading
from maintenance.models import MeterKind, ReadingSource

REQUIRED = ("vin", "reported_at", "mileage")


@dataclass(frozen=True)
class Report:
    """One usable position report."""

    line: int
    vin: str
    reported_at: datetime
    km: int
    hours: int | None


@dataclass
class ImportResult:
    """What an import did: rows read, vehicles seen, readings recorded, and the bad rows with their reasons."""

    rows: int = 0
    vehicles: int = 0
    readings: int = 0
    errors: list[tuple[int, str, str]] = field(default_factory=list)


def _whole(text: str, name: str) -> int:
    try:
        value = int(text.strip())
    except ValueError:
        raise InvalidInput("not a whole number", field=name) from None
    if not 0 <= value <= MAX_VALUE * 10:
        raise InvalidInput("out of range", field=name)
    return value


def parse_reports(lines: Iterable[str], zone: ZoneInfo, result: ImportResult) -> list[Report]:
    """Parse the CSV; bad rows go to `result.errors` as (line, field, message)."""
    reader = csv.DictReader(lines)
    missing = [name for name in REQUIRED if name not in (reader.fieldnames or [])]
    if missing:
        raise InvalidInput("the CSV header needs the columns %(columns)s", field="file", columns=", ".join(REQUIRED))
    reports = []
    for row in reader:
        result.rows += 1
        line = reader.line_num
        try:
            vin = (row.get("vin") or "").strip().upper()
            if len(vin) != 17:
                raise InvalidInput("a VIN has 17 characters", field="vin")
            try:
                moment = datetime.fromisoformat((row.get("reported_at") or "").strip())
            except ValueError:
                raise InvalidInput("not an ISO 8601 time", field="reported_at") from None
            moment = moment if moment.tzinfo else moment.replace(tzinfo=zone)
            km = _whole(row.get("mileage") or "", "mileage") // 10  # 1/10 km in JT/T 808 item 0x01
            hours_text = (row.get("engine_hours") or "").strip()
            hours = _whole(hours_text, "engine_hours") if hours_text else None
        except InvalidInput as problem:
            result.errors.append((line, problem.field or "-", problem.message))
            continue
        reports.append(Report(line, vin, moment, km, hours))
    return reports


def _daily_last(reports: list[Report], zone: ZoneInfo, result: ImportResult) -> list[Report]:
    """Drop reports that go backwards within the file (reported as bad) and keep each VIN's last of each day."""
    kept: dict[tuple[str, date], Report] = {}
    highest: dict[str, Report] = {}
    for report in sorted(reports, key=lambda item: (item.vin, item.reported_at, item.line)):
        top = highest.get(report.vin)
        if top is not None and report.km < top.km:
            result.errors.append(
                (report.line, "mileage", f"{report.km} km is below {top.km} km reported on line {top.line}")
            )
            continue
        highest[report.vin] = report
        kept[(report.vin, report.reported_at.astimezone(zone).date())] = report
    return sorted(kept.values(), key=lambda item: (item.vin, item.reported_at))


def import_reports(
    session: Session,
    lines: Iterable[str],
    *,
    zone: ZoneInfo,
    now: datetime,
    max_km_per_day: int,
    progress: Callable[[int, int], None] = lambda done, total: None,
) -> ImportResult:
    """Record the readings of a telematics CSV; return the counts and the bad rows (by line)."""
    result = ImportResult()
    reports = parse_reports(lines, zone, result)
    vins = sorted({report.vin for report in reports})
    vehicles = {
        vehicle.vin: vehicle for vehicle in session.scalars(select(Vehicle).where(Vehicle.vin.in_(vins)))
    } if vins else {}  # fmt: skip
    result.vehicles = len(vehicles)
    for report in reports:
        if report.vin not in vehicles:
            result.errors.append((report.line, "vin", f"no vehicle with VIN {report.vin}"))
    daily = _daily_last([report for report in reports if report.vin in vehicles], zone, result)
    for done, report in enumerate(daily, start=1):
        vehicle = vehicles[report.vin]
        meters = [(MeterKind.KM, report.km, "mileage"), (MeterKind.HOURS, report.hours, "engine_hours")]
        for kind, value, name in meters:
            if value is None:
                continue
            try:
                record_reading(
                    session, None, vehicle, kind, value, report.reported_at, ReadingSource.TELEMATICS, now=now,
                    max_km_per_day=max_km_per_day, field=name,
                )  # fmt: skip
                result.readings += 1
            except InvalidInput as problem:
                result.errors.append((report.line, problem.field or name, problem.message))
        progress(done, len(daily))
    result.errors.sort()
    return result
