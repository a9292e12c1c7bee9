"""Structural rules a reader relies on: nothing but a transaction owner commits."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("app", "milepost", "traceability", "network", "reviews", "knowledge", "community", "maintenance")
# The transaction owners: the request (app/web/transaction.py and its error handler), commands and jobs
# (app.db.run_in_transaction). Nothing else commits.
OWNERS = {"app/db.py", "app/web/transaction.py", "app/web/errors.py"}


def _python_files() -> list[Path]:
    return [path for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]


def test_only_transaction_owners_commit():
    offenders = []
    for path in _python_files():
        name = str(path.relative_to(ROOT))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            is_commit = (
                isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "commit"
            )
            if is_commit and name not in OWNERS:
                offenders.append(f"{name}:{node.lineno}")

    assert offenders == []
