"""Community jobs for the worker: reports past their review deadline are flagged to the OEM."""

from __future__ import annotations

from datetime import timedelta

from app.jobs import JobContext, job
from community.moderation import flag_overdue_reports


@job("community.flag_overdue_reports", every=timedelta(minutes=10))
def flag_overdue(context: JobContext) -> dict:
    """Flag every open report past its deadline (MILEPOST_COMMUNITY_REPORT_HOURS) on the OEM's moderation queue."""
    return {"flagged": flag_overdue_reports(context.session, context.now)}
