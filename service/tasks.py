"""Service desk jobs for the worker: SLA milestones, held notifications, and requests from other domains' entry
points (escalated roadside jobs, scan problem reports) that have none yet.

Until `app/jobs.py` (the job runner) is on main, `milepost service advance` runs them from cron every minute;
each step is idempotent (conditional UPDATEs, one request per external reference), so two runs at once are safe.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from network.models import AssistanceRequest, AssistanceStatus
from service.intake import open_from_escalated_roadside, open_from_problem_report
from service.models import ServiceRequest
from service.notices import release_held_notifications
from service.settings import ServiceSettings
from service.sla import advance_clocks
from traceability.models import ProblemReport

# Entry points older than this are not picked up (they were handled before the service desk existed).
LOOKBACK = timedelta(days=7)


def collect_entry_points(session: Session, settings: ServiceSettings, now: datetime) -> int:
    """Open a request for each recent escalated roadside job and scan problem report that has none."""
    since = now - LOOKBACK
    known = set(
        session.scalars(
            select(ServiceRequest.external_ref).where(
                ServiceRequest.created_at >= since - LOOKBACK, ServiceRequest.external_ref.is_not(None)
            )
        )
    )
    opened = 0
    jobs = session.scalars(
        select(AssistanceRequest).where(
            AssistanceRequest.status == AssistanceStatus.ESCALATED, AssistanceRequest.created_at >= since
        )
    )
    for job in jobs:
        if f"assistance:{job.id}" not in known:
            open_from_escalated_roadside(session, job, settings, now)
            opened += 1
    for report in session.scalars(select(ProblemReport).where(ProblemReport.created_at >= since)):
        if f"problem_report:{report.id}" not in known:
            open_from_problem_report(session, report, settings, now)
            opened += 1
    return opened


def advance_service(session: Session, settings: ServiceSettings, now: datetime) -> dict[str, int]:
    """Run one tick: open requests from entry points, move the SLA clocks on, send notifications now due."""
    counts = {"opened": collect_entry_points(session, settings, now)}
    counts.update(advance_clocks(session, settings, now))
    counts["released"] = release_held_notifications(session, now)
    return counts
