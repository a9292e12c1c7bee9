"""Leads jobs for the worker: one tick every minute takes in touchpoints, dispatches in working hours and returns
leads whose follow-up time ran out (`milepost leads advance` runs one tick by hand). Every step is a conditional
UPDATE through the one ownership function, so two workers at once do no harm."""

from __future__ import annotations

from datetime import timedelta

from app.jobs import JobContext, job
from leads.rules import ADVANCE_JOB, advance_leads
from leads.settings import leads_settings


@job(ADVANCE_JOB, every=timedelta(minutes=1))
def advance(context: JobContext) -> dict:
    """Take in touchpoints, dispatch leads in working hours, return leads nobody followed up in time."""
    # In chunks of leads.settings.CHUNK, each committed: SQLite's one writer is never held for long.
    return advance_leads(context.session, leads_settings(context.settings), context.now, checkpoint=context.commit)
