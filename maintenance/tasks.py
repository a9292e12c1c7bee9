"""Maintenance jobs for the worker: the reminder round, every hour (each due occurrence is told once)."""

from __future__ import annotations

from datetime import timedelta

from app.jobs import JobContext, job
from maintenance.reminders import send_reminders
from maintenance.settings import maintenance_settings


@job("maintenance.send_reminders", every=timedelta(hours=1))
def remind(context: JobContext) -> dict:
    """Tell truck owners of maintenance due soon or overdue (inbox, text) and leave a lead touchpoint, once each."""
    # In chunks of reminders.CHUNK trucks, each committed: SQLite's one writer is never held for long.
    return send_reminders(context.session, maintenance_settings(context.settings), context.now, context.commit)
