"""The OEM dashboard's figures: scans by day and verdict, open alerts by cause and province, coverage, shop tiers,
roadside escalations, the job worker and the scan map's cells. Each domain's rules stay in its domain; this
module only counts across them (it is the shell, the one place that may read every domain)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Numeric, cast, func, select
from sqlalchemy.orm import Session

from app.jobs import JobQueue, JobRun, JobState, list_job_status, run_to_dict
from network import coverage
from network.models import AssistanceRequest, AssistanceStatus, Shop, ShopStatus
from reviews.models import CertificationState
from reviews.tiers import Tier
from traceability.alerts import alert_province
from traceability.models import Alert, AlertStatus, Scan, Verdict

# Worst first: a map cell takes the colour of the worst verdict scanned in it.
VERDICT_ORDER = (
    Verdict.COUNTERFEIT,
    Verdict.VOID,
    Verdict.RECALLED,
    Verdict.SUSPECT,
    Verdict.INSTALLED,
    Verdict.GENUINE,
)
TIER_ORDER = ("gold", "certified", "watch", "probation", "candidate", "suspended", "revoked", "none")
# Scan cells of 0.1 degree (about 10 km): coarser than a stored scan's 1 km, so a cell never points at a place.
CELL_DEGREES = 1


@dataclass(frozen=True)
class Period:
    """The local days the dashboard covers, ending today (in `zone`)."""

    first: date
    last: date
    zone: ZoneInfo

    @classmethod
    def ending(cls, today: date, days: int, zone: ZoneInfo) -> Period:
        """Return the `days` local days up to and including `today`."""
        return cls(today - timedelta(days=days - 1), today, zone)

    def days(self) -> list[date]:
        """Return every day of the period, oldest first."""
        return [self.first + timedelta(days=offset) for offset in range((self.last - self.first).days + 1)]

    def start_of(self, day: date) -> datetime:
        """Return the UTC instant a local day begins."""
        return datetime.combine(day, time(), self.zone).astimezone(ZoneInfo("UTC"))

    @property
    def since(self) -> datetime:
        return self.start_of(self.first)

    @property
    def until(self) -> datetime:
        return self.start_of(self.last + timedelta(days=1))


def scans_per_day(session: Session, period: Period) -> list[dict]:
    """Count scans per local day and verdict (a range query per day: index-backed, and right in any zone)."""
    rows = []
    for day in period.days():
        statement = (
            select(Scan.verdict, func.count())
            .where(Scan.scanned_at >= period.start_of(day), Scan.scanned_at < period.start_of(day + timedelta(days=1)))
            .group_by(Scan.verdict)
        )
        counts = dict(session.execute(statement).all())
        rows.append({"day": day, "verdicts": counts, "total": sum(counts.values())})
    return rows


def open_alerts(session: Session) -> dict:
    """Count the alerts not yet closed by cause, by province, and by both."""
    province = alert_province().label("province")
    statement = (
        select(Alert.cause, province, func.count())
        .outerjoin(Alert.organization)
        .where(Alert.status != AlertStatus.CLOSED)
        .group_by(Alert.cause, province)
    )
    by_cause: dict[str, int] = {}
    by_province: dict[str, int] = {}
    cells: dict[tuple[str, str], int] = {}
    for cause, where, count in session.execute(statement):
        by_cause[cause] = by_cause.get(cause, 0) + count
        by_province[where] = by_province.get(where, 0) + count
        cells[(cause, where)] = count
    return {
        "total": sum(by_cause.values()),
        "by_cause": sorted(by_cause.items(), key=lambda item: (-item[1], item[0])),
        "by_province": sorted(by_province.items(), key=lambda item: (-item[1], item[0])),
        "cells": cells,
    }


def kept_coverage(session: Session, radius_km: float, now: datetime) -> dict:
    """Return the percent of expressway km within `radius_km` of an active certified shop as the worker last kept
    it (network.refresh_coverage), with its age in minutes; both None before its first run."""
    rollup = coverage.find_coverage_rollup(session, radius_km)
    if rollup is None:
        return {"percent": None, "age_minutes": None}
    computed_at = rollup.computed_at
    if computed_at.tzinfo is None:
        computed_at = computed_at.replace(tzinfo=ZoneInfo("UTC"))
    return {"percent": float(rollup.percent), "age_minutes": max(0, int((now - computed_at).total_seconds() // 60))}


def tier_distribution(session: Session) -> list[tuple[str, int]]:
    """Count active shops per certification tier (reviews' own tier, watch and probation included), best first."""
    tier = func.coalesce(CertificationState.tier, Tier.NONE.value).label("tier")
    statement = (
        select(tier, func.count())
        .select_from(Shop)
        .outerjoin(CertificationState, CertificationState.shop_id == Shop.id)
        .where(Shop.status == ShopStatus.ACTIVE)
        .group_by(tier)
    )
    counts = dict(session.execute(statement).all())
    ordered = [name for name in TIER_ORDER if name in counts] + sorted(set(counts) - set(TIER_ORDER))
    return [(name, counts[name]) for name in ordered]


def pending_certification_changes(session: Session) -> int:
    """Count the shops with a proposed tier change waiting (reviews' pending changes)."""
    return session.scalar(select(func.count()).where(CertificationState.pending_tier.is_not(None))) or 0


def roadside_escalations(session: Session, now: datetime) -> dict:
    """Count the roadside requests no shop took (escalated to the OEM desk) and how long the oldest has waited."""
    escalated = AssistanceRequest.status == AssistanceStatus.ESCALATED
    count, oldest = session.execute(select(func.count(), func.min(AssistanceRequest.created_at)).where(escalated)).one()
    if oldest is not None and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=ZoneInfo("UTC"))
    return {"open": count, "oldest_minutes": int((now - oldest).total_seconds() // 60) if oldest else None}


def job_health(session: Session, now: datetime) -> dict:
    """Summarize the worker's jobs: how many, how many whose last run failed, and the failures of the day."""
    jobs = list_job_status(session, now)
    failing = [job for job in jobs if job["last_run"] and job["last_run"]["state"] == JobState.FAILED]
    return {
        "jobs": jobs,
        "count": len(jobs),
        "failing": [job["name"] for job in failing],
        "failures_24h": sum(job["failures_24h"] for job in jobs),
        "never_run": sum(1 for job in jobs if job["last_run"] is None),
    }


def scan_cells(session: Session, period: Period) -> list[dict]:
    """Count located scans of the period per 0.1-degree cell and verdict; each cell's worst verdict colours it."""
    lat = func.round(cast(Scan.lat, Numeric(9, 4)), CELL_DEGREES).label("cell_lat")
    lon = func.round(cast(Scan.lon, Numeric(9, 4)), CELL_DEGREES).label("cell_lon")
    statement = (
        select(lat, lon, Scan.verdict, func.count())
        .where(Scan.lat.is_not(None), Scan.scanned_at >= period.since, Scan.scanned_at < period.until)
        .group_by(lat, lon, Scan.verdict)
    )
    cells: dict[tuple[float, float], dict[str, int]] = {}
    for cell_lat, cell_lon, verdict, count in session.execute(statement):
        cells.setdefault((float(cell_lat), float(cell_lon)), {})[verdict] = count
    rendered = []
    for (cell_lat, cell_lon), verdicts in sorted(cells.items()):
        worst = next(verdict for verdict in (*VERDICT_ORDER, *sorted(verdicts)) if verdict in verdicts)
        rendered.append(
            {"lat": cell_lat, "lon": cell_lon, "verdicts": verdicts, "total": sum(verdicts.values()), "worst": worst}
        )
    return rendered


def demo_build(session: Session, queue: JobQueue | None) -> dict | None:
    """Return how far the worker got building the rest of the demo (state, steps done and total), or None once
    it is built or when no such build was ever queued."""
    from milepost.demo import DEMO_JOB

    run = session.scalar(select(JobRun).where(JobRun.name == DEMO_JOB).order_by(JobRun.id.desc()).limit(1))
    if run is None or run.state == JobState.SUCCEEDED:
        return None
    shown = run_to_dict(run, queue)
    return {"state": run.state, **shown["progress"]}
