"""README's configuration table is generated from app/config.py DEFAULTS, so the two cannot drift apart.

Regenerate it with `python -m tests.test_readme` and paste the output between the markers.
"""

from __future__ import annotations

import re
from pathlib import Path

from app import config

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def describe_default(name: str, value: object) -> str:
    if name == "DATABASE_URL":
        return "SQLite `milepost.sqlite3` in the instance folder"
    if value == "" or value is None:
        return "(empty)"
    if isinstance(value, list):
        return "`" + ",".join(value) + "`"
    return f"`{value}`"


def settings_table() -> str:
    """Return the Markdown table of every setting, its default and its comment in config.py."""
    source = Path(config.__file__).read_text(encoding="utf-8").splitlines()
    rows = ["| environment variable | default | meaning |", "|---|---|---|"]
    for name, value in config.DEFAULTS.items():
        line = next(index for index, text in enumerate(source) if text.strip().startswith(f'"{name}":'))
        comment = []
        index = line - 1
        while source[index].strip().startswith("#"):
            comment.insert(0, source[index].strip().lstrip("# "))
            index -= 1
        rows.append(f"| `{config.ENV_PREFIX}{name}` | {describe_default(name, value)} | {' '.join(comment)} |")
    return "\n".join(rows)


def test_readme_settings_table_matches_config_defaults():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")

    block = re.search(f"{START}\n(.*?)\n{END}", readme, re.DOTALL)

    assert block is not None, "README lacks the settings markers"
    assert block.group(1) == settings_table(), "regenerate with `python -m tests.test_readme`"


if __name__ == "__main__":
    print(settings_table())
