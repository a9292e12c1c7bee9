"""Clean-up jobs of the core: failed-attempt counters and old job runs."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from app.jobs import JobContext, job, prune_job_runs
from app.security import Attempt

# Longer than every attempt window (logins 15 minutes, activation codes and reports an hour by default).
ATTEMPT_RETENTION = timedelta(days=2)


@job("core.prune_attempts", every=timedelta(hours=1))
def prune_attempts(context: JobContext) -> dict:
    """Delete failed-attempt counters older than any limit's window."""
    windows = [context.settings.get(name, 0) for name in ("LOGIN_WINDOW_SECONDS", "ACTIVATION_WINDOW_SECONDS")]
    keep = max(ATTEMPT_RETENTION, timedelta(seconds=max(windows)))
    result = context.session.execute(delete(Attempt).where(Attempt.occurred_at < context.now - keep))
    return {"deleted": result.rowcount or 0}


@job("core.prune_job_runs", every=timedelta(hours=6))
def prune_runs(context: JobContext) -> dict:
    """Delete finished job runs older than two weeks (failures after three months)."""
    return {"deleted": prune_job_runs(context.session, context.now)}
