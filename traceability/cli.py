"""Traceability commands for the `milepost` CLI: commissioning parts and verifying the custody chain."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from app.clock import local_today
from app.commands import run_command
from app.crm.organizations import get_organization
from app.web.context import SESSIONMAKER_KEY, code_keyring
from traceability.catalogue import get_part_type
from traceability.chain import count_events, default_jobs, reseal_chains, verify_chain
from traceability.commissioning import commission_batch


@click.group("parts")
def parts_group() -> None:
    """Serialized parts."""


@parts_group.command("commission")
@click.option("--part-number", required=True, help="OEM part number of the part type")
@click.option("--factory", "factory_code", required=True, help="factory organization code")
@click.option("--quantity", required=True, type=click.IntRange(1, 50_000_000))
@click.option("--line", "production_line", required=True, help="production line")
@click.option("--date", "production_date", type=click.DateTime(["%Y-%m-%d"]), default=None, help="default: today")
@click.option("--qc", "qc_result", default="passed", show_default=True, help="passed or concession")
@click.option("--inspector", "qc_inspector", required=True, help="QC inspector")
@with_appcontext
def commission_command(
    part_number: str,
    factory_code: str,
    quantity: int,
    production_line: str,
    production_date,
    qc_result: str,
    qc_inspector: str,
) -> None:
    """Create a batch of serialized parts in one transaction (bulk insert; COPY on PostgreSQL)."""
    with click.progressbar(length=quantity, label="Commissioning", show_pos=True) as bar:

        def work(session: Session):
            return commission_batch(
                session,
                code_keyring(),
                part_type=get_part_type(session, part_number, field="part-number"),
                factory=get_organization(session, factory_code, field="factory"),
                quantity=quantity,
                production_line=production_line,
                production_date=production_date.date() if production_date else local_today(current_app.config),
                today=local_today(current_app.config),
                qc_result=qc_result,
                qc_inspector=qc_inspector,
                max_quantity=50_000_000,
                progress=bar.update,
            )

        batch = run_command(work)
        bar.update(quantity - bar.pos)
    click.echo(f"Batch {batch.id} (lot {batch.lot}): {quantity:,} parts commissioned.")
    click.echo(f"Labels and activation codes: GET /api/v1/batches/{batch.id}/labels.zip (factory staff).")


@click.group("chain")
def chain_group() -> None:
    """The tamper-evident custody chain."""


@chain_group.command("verify")
@click.option(
    "--jobs",
    "-j",
    "--processes",
    "processes",
    type=click.IntRange(1, 64),
    default=None,
    help="connections checking ranges of events in parallel (PostgreSQL); default: one per CPU (up to 4)"
    " from 40,000 events on, else one",
)
@with_appcontext
def verify_command(processes: int | None) -> None:
    """Recompute every event's MAC; exit 1 naming the first altered, missing or reordered event."""
    session = current_app.extensions[SESSIONMAKER_KEY]()
    url = session.get_bind().engine.url.render_as_string(hide_password=False)
    try:
        events = count_events(session)
        if processes is None:
            processes = default_jobs(session, events)
        with click.progressbar(length=events, label="Verifying chains", show_pos=True) as bar:
            checked, problem = verify_chain(session, code_keyring(), bar.update, processes=processes, url=url)
    finally:
        session.close()
    if problem is not None:
        click.echo(f"Chain broken at {problem} ({checked:,} events before it are intact).", err=True)
        sys.exit(1)
    click.echo(f"Chain intact: {checked:,} events verified.")


@chain_group.command("reseal")
@with_appcontext
def reseal_command() -> None:
    """Seal every chain with the newest key (once, after upgrading to keyed chains)."""
    sealed = run_command(lambda session: reseal_chains(session, code_keyring()))
    click.echo(f"{sealed:,} events sealed with key {code_keyring().signing_kid}.")


COMMANDS: list[click.Command] = [parts_group, chain_group]
