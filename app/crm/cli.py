"""CRM commands for the `milepost` CLI: importing touchpoints (a dealer's old customer list, a fair's sign-ups)."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from app.commands import run_command
from app.crm.touchpoints import import_touchpoints, read_import_rows
from app.db import utcnow


@click.group("crm")
def crm_group() -> None:
    """Customers, vehicles and touchpoints."""


@crm_group.command("import-touchpoints")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_touchpoints_command(path: Path) -> None:
    """Add one touchpoint per row of a CSV (phone, vin, kind, province, ...): all rows, or none when a line is bad."""

    def report(done: int, total: int) -> None:
        click.echo(f"{done:,}/{total:,} rows written", err=True)

    def work(session: Session) -> str:
        rows = read_import_rows(path.read_text(encoding="utf-8-sig"))
        written = import_touchpoints(session, rows, path.name, utcnow(), progress=report)
        return f"Imported {written:,} touchpoints from {path.name}; the leads intake takes them in on its next run."

    click.echo(run_command(work))


COMMANDS = [crm_group]
