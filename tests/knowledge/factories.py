"""Knowledge test factories: entries, with the shipped set loaded on request."""

from __future__ import annotations

import itertools

from sqlalchemy.orm import Session

from knowledge.entries import Applicability, entry_key
from knowledge.models import FaultEntry
from knowledge.search import fold

_sequence = itertools.count(1)


def make_entry(
    session: Session,
    code: str = "100",
    fmi: int | None = None,
    applicability: Applicability = Applicability(),
    **overrides: object,
) -> FaultEntry:
    """Add a J1939 entry (generic unless `applicability` says otherwise) written by an OEM."""
    number = next(_sequence)
    scheme = str(overrides.pop("scheme", "j1939"))
    source_address = overrides.pop("source_address", None)
    fields = {
        "key": entry_key(scheme, code, fmi, source_address, applicability),
        "scheme": scheme,
        "code": code,
        "fmi": fmi,
        "source_address": source_address,
        "model": applicability.model,
        "engine_family": applicability.engine_family,
        "emission_stage": applicability.emission_stage,
        "title": {"zh": f"条目{number}", "en": f"Entry {number}"},
        "driver_text": {"zh": "说明", "en": "Text"},
        "severity": "service_soon",
        "may_continue": "limited",
        "service": "engine",
        "part_categories": [],
        "source": "oem_import",
    }
    fields.update(overrides)
    fields["search_text"] = fold(fields["title"]["zh"], fields["title"]["en"])
    entry = FaultEntry(**fields)
    session.add(entry)
    session.flush()
    return entry
