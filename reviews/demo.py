"""reviews demo data, built through the domain's own services."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

from sqlalchemy.orm import Session


def seed(session: Session, rng: random.Random, size: str, track: Callable[[Iterable, str], Iterable]) -> list[str]:
    """Add this domain's demo records; return lines describing demo logins to print."""
    return []
