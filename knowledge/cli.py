"""Knowledge commands: install the shipped entries, import an OEM's licensed fault table."""

from __future__ import annotations

from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from app.commands import run_command
from knowledge.entries import import_entries, install_shipped_entries
from knowledge.models import EntrySource


@click.group("knowledge")
def knowledge_group() -> None:
    """Fault-code knowledge base."""


@knowledge_group.command("install")
@with_appcontext
def knowledge_install() -> None:
    """Load or refresh the fault entries Milepost ships (our own wording); imported entries are kept."""

    def work(session: Session) -> str:
        added, updated = install_shipped_entries(session)
        return f"Shipped entries: {added} added, {updated} refreshed."

    click.echo(run_command(work))


@knowledge_group.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--source",
    type=click.Choice([EntrySource.OEM_IMPORT, EntrySource.DA_IMPORT]),
    default=EntrySource.OEM_IMPORT,
    show_default=True,
    help="whose licensed table it is",
)
@with_appcontext
def knowledge_import(path: Path, source: str) -> None:
    """Import a licensed fault table (CSV, see docs/knowledge.md): every row, or none when any row is wrong."""

    def work(session: Session) -> str:
        added, updated = import_entries(session, path.read_bytes(), source)
        return f"Imported {path.name}: {added} entries added, {updated} replaced."

    click.echo(run_command(work))


COMMANDS = [knowledge_group]
