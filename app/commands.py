"""The command-line kit: every `milepost` command runs its work through one transaction helper."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TypeVar

import click
from flask import current_app
from sqlalchemy.orm import Session

from app.db import SESSIONMAKER_KEY, run_in_transaction
from app.errors import MilepostError

T = TypeVar("T")


def report_error(error: MilepostError) -> None:
    """Print a domain error, and the row errors of an import, the way every command does."""
    click.echo(f"Error ({error.field or 'input'}): {error.message}", err=True)
    for row in error.details.get("errors") or []:
        click.echo(f"  row {row['row']}: {row['field'] or '-'}: {row['message']}", err=True)


def run_command(work: Callable[[Session], T]) -> T:
    """Run `work` in one committed transaction of the app's database; on a domain error print it and exit 2.

    A lost race is retried once, like a request; a failed command keeps only its error's kept writes.
    """
    try:
        return run_in_transaction(current_app.extensions[SESSIONMAKER_KEY], work)
    except MilepostError as error:
        report_error(error)
        sys.exit(2)
