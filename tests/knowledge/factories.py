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


def make_booking(session: Session, shop=None, vehicle=None, status: str = "checked_in", **overrides: object):
    """Add a booking of `vehicle` at `shop` (new ones unless given) in `status`, an hour from now."""
    from datetime import timedelta

    from app.db import utcnow
    from network.models import Booking
    from tests.factories import make_vehicle
    from tests.network.factories import make_shop

    shop = shop or make_shop(session)
    vehicle = vehicle or make_vehicle(session)
    start = utcnow().replace(microsecond=0) + timedelta(hours=1)
    fields = {
        "shop": shop,
        "customer": vehicle.owner,
        "vehicle": vehicle,
        "service": "engine",
        "start": start,
        "end": start + timedelta(hours=1),
        "status": status,
        **overrides,
    }
    booking = Booking(**fields)
    session.add(booking)
    session.flush()
    return booking
