"""Version stamps that tell every worker process when its in-memory routes or shop index are out of date."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from threading import Lock
from time import monotonic
from typing import Generic, TypeVar

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from network.models import NetworkVersion

SHOPS = "shops"
HIGHWAYS = "highways"

T = TypeVar("T")

# How long a process trusts the stamp it last read before reading it again. A change committed in another process
# (or on another host) reaches every cache within this time, and the busiest public searches (nearest shops,
# shops ahead) run without a database round trip in between. Tests and scaling notes say "within a second".
RECHECK_SECONDS = 0.5
# After this process changed a stamp it reads the stamp on every use for a while: its own change shows on its
# next request, whenever the change's transaction commits within that time.
LOCAL_CHANGE_SECONDS = 5.0
# When this process last gave each stamp a fresh value (time.monotonic).
_changed_here: dict[str, float] = {}


def read_version(session: Session, name: str) -> int:
    """Return the current stamp of `name` (0 before the first change)."""
    return session.scalar(select(NetworkVersion.value).where(NetworkVersion.name == name)) or 0


def bump_version(session: Session, name: str) -> None:
    """Give `name` a fresh stamp in the caller's transaction.

    The stamp is random rather than incremented: a rolled-back change must never hand out a number that a
    later, different change also gets, or a worker would keep an index built from data that never existed.
    """
    stamp = secrets.randbelow(2**31 - 1) + 1
    _changed_here[name] = monotonic()
    result = session.execute(update(NetworkVersion).where(NetworkVersion.name == name).values(value=stamp))
    if result.rowcount:
        return
    try:
        with session.begin_nested():
            session.execute(insert(NetworkVersion).values(name=name, value=stamp))
    except IntegrityError:
        # Another transaction created the row first; it is now there to update.
        session.execute(update(NetworkVersion).where(NetworkVersion.name == name).values(value=stamp))


class VersionedCache(Generic[T]):
    """One process-wide value rebuilt whenever the database's stamp for it changes (read at most every
    RECHECK_SECONDS, and on every use shortly after this process changed it)."""

    def __init__(self, name: str, build: Callable[[Session], T]) -> None:
        self.name = name
        self.build = build
        self.lock = Lock()
        self.version: int | None = None
        self.value: T | None = None
        self.checked_at = float("-inf")

    def _trusted(self, now: float) -> bool:
        if self.value is None or now - self.checked_at >= RECHECK_SECONDS:
            return False
        return now - _changed_here.get(self.name, float("-inf")) >= LOCAL_CHANGE_SECONDS

    def get(self, session: Session) -> T:
        """Return the value for the database's current stamp, rebuilding it when the stamp moved."""
        now = monotonic()
        if self._trusted(now):
            return self.value
        # Read the stamp before the data: a change committed in between makes the next request rebuild again.
        version = read_version(session, self.name)
        with self.lock:
            self.checked_at = now
            if self.version != version or self.value is None:
                self.value = self.build(session)
                self.version = version
            return self.value
