"""Every reason a verdict can carry is said in words on the scan page, in Chinese and in English."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import traceability
from tests.factories import make_vehicle
from tests.traceability.factories import install_part_on, part_path
from traceability.pages import SCAN_REASON_TEXTS
from traceability.verdicts import PERSISTENT_SIGNALS, SCAN_REASONS

HAN = re.compile(r"[\u4e00-\u9fff]")
# The shapes in which the rules write a reason: reasons.append("x"), ["x", ...] (not state["x"]), "x" if ... else "y".
EMITTED = re.compile(r'(?:append\(|(?<![\w\]])\[|else )"([a-z_]+)"')


def emitted_reasons() -> set[str]:
    """Return every reason literal that the verdict rules (verdicts.py, scans.py) write into a verdict."""
    found = set()
    for name in ("verdicts.py", "scans.py"):
        source = (Path(traceability.__file__).parent / name).read_text()
        # SQL built in those modules names columns in lists too (insert().from_select(["bucket", ...])): not reasons.
        lines = [line for line in source.splitlines() if "select(" not in line]
        found |= set(EMITTED.findall("\n".join(lines)))
    return found


def test_scan_reasons_list_every_reason_the_rules_emit():
    missing = (emitted_reasons() | set(PERSISTENT_SIGNALS.values())) - set(SCAN_REASONS)

    assert not missing


@pytest.mark.parametrize("reason", SCAN_REASONS)
def test_every_scan_reason_has_a_sentence_in_both_languages(app, reason):
    with app.test_request_context("/?lang=zh"):
        chinese = str(SCAN_REASON_TEXTS[reason])
    with app.test_request_context("/?lang=en"):
        english = str(SCAN_REASON_TEXTS[reason])

    assert HAN.search(chinese) and not re.search(r"[A-Za-z]{2,}", chinese)
    assert not HAN.search(english) and "_" not in english


def test_scan_page_says_offered_after_install_in_words(client, session):
    part = install_part_on(session, make_vehicle(session).vin)

    page = client.get(f"{part_path(part)}&intent=buy&lang=zh").get_data(as_text=True)

    assert 'data-reason="offered_after_install"' in page
    assert "此配件已记录为装在车辆上，却有人在出售它。" in page
    assert ">offered_after_install<" not in page
