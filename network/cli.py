"""Network commands for the `milepost` CLI."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
