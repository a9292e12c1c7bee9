"""Community commands: check a keyword list against a text, flag overdue reports now."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.orm import Session

from app.commands import run_command
from app.db import utcnow
from community.filtering import find_terms
from community.moderation import flag_overdue_reports
from community.settings import community_settings


@click.group("community")
def community_group() -> None:
    """Driver questions and answers."""


@community_group.command("check-keywords")
@click.argument("text")
@with_appcontext
def check_keywords(text: str) -> None:
    """Show which configured keywords TEXT contains (what would hold a post for review)."""
    terms = find_terms(community_settings(current_app.config).keywords, text)
    click.echo(", ".join(terms) if terms else "No keyword found: the post would not be held for its words.")


@community_group.command("flag-overdue")
@with_appcontext
def flag_overdue() -> None:
    """Flag open reports past their review deadline to the OEM (the worker does it every 10 minutes)."""

    def work(session: Session) -> str:
        return f"Flagged {flag_overdue_reports(session, utcnow())} overdue reports."

    click.echo(run_command(work))


COMMANDS = [community_group]
