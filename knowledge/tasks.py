"""Knowledge jobs for the worker: telematics faults that stopped being reported become inactive."""

from __future__ import annotations

from datetime import timedelta

from app.jobs import JobContext, job
from knowledge.faults import expire_stale_faults


@job("knowledge.expire_stale_faults", every=timedelta(hours=1))
def expire_faults(context: JobContext) -> dict:
    """Make telematics faults not reported for a week inactive."""
    # In chunks, each committed: SQLite's one writer is never held for long.
    return {"made_inactive": expire_stale_faults(context.session, context.now, checkpoint=context.commit)}
