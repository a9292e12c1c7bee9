"""Maintenance commands for the `milepost` CLI: the telematics import and one reminder round."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from app.commands import run_command
from app.db import utcnow
from maintenance.reminders import send_reminders
from maintenance.settings import maintenance_settings
from maintenance.telematics import ImportResult, import_reports

PROGRESS_EVERY = 1000


@click.group("maintenance")
def maintenance_group() -> None:
    """Maintenance plans, meters and reminders."""


@maintenance_group.command("import-telematics")
@click.argument("file", type=click.File("rb"))
@with_appcontext
def import_telematics(file) -> None:
    """Record odometer readings from a CSV of JT/T 808 position reports (vin,reported_at,mileage in 1/10 km)."""
    settings = maintenance_settings(current_app.config)
    try:
        text = file.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        raise click.ClickException("the file is not UTF-8 text") from None

    def progress(done: int, total: int) -> None:
        if done % PROGRESS_EVERY == 0 or done == total:
            click.echo(f"  {done}/{total} daily readings")

    def work(session: Session) -> ImportResult:
        return import_reports(
            session,
            text.splitlines(keepends=True),
            zone=settings.zone,
            now=utcnow(),
            max_km_per_day=settings.max_km_per_day,
            progress=progress,
        )

    result = run_command(work)
    click.echo(
        f"{result.rows} rows read, {result.vehicles} vehicles, {result.readings} readings recorded, "
        f"{len(result.errors)} bad rows"
    )
    for line, field, message in result.errors:
        click.echo(f"  line {line}: {field}: {message}", err=True)
    if result.errors:
        sys.exit(1)


@maintenance_group.command("remind")
@with_appcontext
def remind() -> None:
    """Run one reminder round now (the worker runs it every hour)."""
    settings = maintenance_settings(current_app.config)
    counts = run_command(lambda session: send_reminders(session, settings, utcnow()))
    click.echo(", ".join(f"{name} {value}" for name, value in counts.items()))


COMMANDS = [maintenance_group]
