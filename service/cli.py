"""Service commands for the `milepost` CLI: one tick of the service desk's jobs."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from app.commands import run_command
from app.db import utcnow
from service.settings import service_settings
from service.tasks import advance_service


@click.group("service")
def service_group() -> None:
    """Service desk."""


@service_group.command("advance")
@with_appcontext
def service_advance() -> None:
    """Open requests from entry points, warn and breach SLA clocks, send held notifications (cron: every minute)."""
    settings = service_settings(current_app.config)

    def work(session: Session) -> str:
        counts = advance_service(session, settings, utcnow())
        return ", ".join(f"{name} {value}" for name, value in counts.items())

    click.echo(run_command(work))


COMMANDS = [service_group]
