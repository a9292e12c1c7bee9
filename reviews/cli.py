"""Reviews commands for the `milepost` CLI: `milepost certify` runs a certification evaluation."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.commands import report_error, run_command
from app.db import utcnow
from app.errors import MilepostError
from app.web.context import code_keyring
from network.models import Shop
from reviews.certification import evaluate_certification
from reviews.models import CertificationChange, CertificationState
from reviews.settings import configured_thresholds, parse_thresholds, review_settings


@click.command("certify")
@click.option("--shop", "shops", multiple=True, help="evaluate only this shop code (repeatable)")
@click.option(
    "--thresholds",
    "thresholds_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON thresholds for this run instead of the configured ones",
)
@with_appcontext
def certify_command(shops: tuple[str, ...], thresholds_file: Path | None) -> None:
    """Run a certification evaluation: refresh scores and KPIs, step each shop's tier, print the changes."""
    if thresholds_file is not None:
        try:
            thresholds = parse_thresholds(thresholds_file.read_text(), field=thresholds_file.name)
        except MilepostError as error:
            report_error(error)
            sys.exit(2)
    else:
        thresholds = configured_thresholds(current_app.config)
    settings = review_settings(current_app.config)
    click.echo("Evaluating certification ...")

    def work(session: Session):
        run = evaluate_certification(session, None, thresholds, settings, code_keyring(), utcnow(), list(shops) or None)
        changes = session.execute(
            select(CertificationChange, Shop.code)
            .join(Shop, Shop.id == CertificationChange.shop_id)
            .where(CertificationChange.run_id == run.id)
            .order_by(Shop.code)
        ).all()
        pending = session.execute(
            select(CertificationState, Shop.code)
            .join(Shop, Shop.id == CertificationState.shop_id)
            .where(CertificationState.run_id == run.id, CertificationState.pending_tier.is_not(None))
            .order_by(Shop.code)
        ).all()
        return run, changes, pending

    run, changes, pending = run_command(work)
    click.echo(
        f"Run {run.id}: {run.shops_evaluated} shops evaluated, {run.changes} tier changes, "
        f"{run.pending} changes pending confirmation."
    )
    for change, shop_code in changes:
        click.echo(f"  {shop_code}: {change.from_tier} -> {change.to_tier} ({change.reason})")
        click.echo(f"      evidence: {describe_evidence(change.kpis)}")
    # A step takes effect only when consecutive runs propose it: say what this run proposed and why, so the
    # operator sees where the network is heading before the next run confirms it.
    for state, shop_code in pending:
        click.echo(
            f"  {shop_code}: {state.tier} -> {state.pending_tier} pending "
            f"({state.pending_count} of {thresholds.confirmations} runs; {state.pending_reason})"
        )
        click.echo(f"      evidence: {describe_evidence(state.kpis)}")


def describe_evidence(kpis: dict) -> str:
    """Return the KPIs behind a change in one line."""
    return ", ".join(
        [
            f"rating {kpis.get('rating', 0):.2f} ({kpis.get('rating_count', 0)} reviews)",
            f"completion {_percent(kpis.get('completion_rate'))}",
            f"roadside {_percent(kpis.get('roadside_acceptance_rate'))}",
            f"genuine parts {_percent(kpis.get('genuine_part_ratio'))}",
            f"counterfeit incidents {kpis.get('counterfeit_incidents', 0)}",
            f"flagged reviews {kpis.get('flagged_reviews', 0)}",
        ]
    )


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.0f}%"


COMMANDS: list[click.Command] = [certify_command]
