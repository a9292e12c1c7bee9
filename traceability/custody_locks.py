"""Custody event locking: every event row-locks its parts in one global order, so events never deadlock."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound
from traceability.custody_input import part_field
from traceability.models import Part

LOOKUP_CHUNK = 500


def load_parts(session: Session, pairs: list[tuple[str, str]]) -> list[Part]:
    """Return the parts in request order, row-locked; 404 naming the first unknown one.

    Every event locks its parts in one global order, (gtin, serial), whatever order the request names them in:
    two events naming the same parts in different orders then queue instead of deadlocking."""
    by_gtin: dict[str, list[str]] = {}
    for gtin, serial in sorted(pairs):
        by_gtin.setdefault(gtin, []).append(serial)
    found: dict[tuple[str, str], Part] = {}
    for gtin, serials in by_gtin.items():
        for start in range(0, len(serials), LOOKUP_CHUNK):
            chunk = serials[start : start + LOOKUP_CHUNK]
            # FOR UPDATE: two events on the same parts queue here, so both cannot pass the state check.
            statement = (
                select(Part)
                .where(Part.gtin == gtin, Part.serial.in_(chunk))
                .order_by(Part.serial)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
            found.update(((part.gtin, part.serial), part) for part in session.scalars(statement))
    parts = []
    for index, pair in enumerate(pairs):
        part = found.get(pair)
        if part is None:
            raise NotFound(
                "no part with GTIN %(value)s and serial %(value2)s",
                field=part_field(index),
                value=pair[0],
                value2=pair[1],
            )
        parts.append(part)
    return parts
