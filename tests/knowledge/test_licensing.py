"""The shipped knowledge set is Milepost's own writing: provenance, size, no Digital Annex text, no DA files."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

from knowledge.entries import SHIPPED_FILE

ROOT = Path(__file__).resolve().parents[2]
MAX_SHIPPED = 100
# How SAE's J1939 Digital Annex names a few of the parameters we ship (its names are licensed text): our
# titles must be our own words, never these.
DIGITAL_ANNEX_PHRASES = (
    "engine oil pressure",
    "engine coolant temperature",
    "battery potential / power input",
    "keyswitch battery potential",
    "water in fuel indicator",
    "aftertreatment 1 diesel exhaust fluid tank",
    "aftertreatment 1 diesel particulate filter",
    "engine intake manifold #1 pressure",
    "engine injector metering rail 1 pressure",
    "charging system potential",
    "engine turbocharger 1 boost pressure",
    "aftertreatment 1 scr conversion efficiency",
)


def shipped_rows() -> list[dict]:
    with SHIPPED_FILE.open(encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def test_every_shipped_entry_is_marked_as_written_by_milepost():
    rows = shipped_rows()

    assert rows
    assert {row["source"] for row in rows} == {"milepost"}


def test_the_shipped_set_stays_a_small_curated_one():
    assert len(shipped_rows()) <= MAX_SHIPPED


def test_no_shipped_text_uses_digital_annex_wording():
    for row in shipped_rows():
        english = f"{row['title_en']} {row['text_en']}".lower()
        assert not [phrase for phrase in DIGITAL_ANNEX_PHRASES if phrase in english], row["code"]


def test_the_repository_holds_no_digital_annex_file():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    names = [name.lower() for name in tracked.splitlines()]

    assert [name for name in names if "j1939da" in name or "digital_annex" in name or name.endswith(".xlsx")] == []
