"""Leads commands for the `milepost` CLI: one tick of the rules, and dealer territories."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.commands import run_command
from app.crm.models import Organization
from app.db import utcnow
from app.errors import NotFound
from app.security import Role, User
from leads.rules import advance_leads
from leads.settings import leads_settings
from leads.team import create_dealer_pool


@click.group("leads")
def leads_group() -> None:
    """Leads and pools."""


@leads_group.command("advance")
@with_appcontext
def leads_advance() -> None:
    """Take in touchpoints, dispatch in working hours, return leads not followed up in time (cron: every minute)."""
    settings = leads_settings(current_app.config)

    def work(session: Session) -> str:
        counts = advance_leads(session, settings, utcnow())
        return ", ".join(f"{name} {value}" for name, value in counts.items())

    click.echo(run_command(work))


@leads_group.command("territory")
@click.argument("dealer_code")
@click.argument("provinces", nargs=-1)
@click.option("--auto-assign", is_flag=True, help="Assign dispatched leads automatically instead of pooling them.")
@with_appcontext
def leads_territory(dealer_code: str, provinces: tuple[str, ...], auto_assign: bool) -> None:
    """Give a dealer a public pool over PROVINCES (its own province when none are named)."""

    def work(session: Session) -> str:
        dealer = session.scalar(select(Organization).where(Organization.code == dealer_code))
        if dealer is None:
            raise NotFound("no dealer with this code")
        actor = session.scalar(select(User).where(User.role == Role.OEM_ADMIN, User.is_active.is_(True)).limit(1))
        pool = create_dealer_pool(session, actor, dealer, list(provinces), auto_assign)
        return f"pool {pool.code}: {', '.join(pool.provinces)}"

    click.echo(run_command(work))


COMMANDS = [leads_group]
