"""Each client address's hourly budget of counterfeit alerts: exact across processes, and remembered in each
process once spent, so a flood from one address costs no budget statements until a slot frees."""

from __future__ import annotations

from collections.abc import MutableMapping
from datetime import datetime, timedelta
from threading import Lock
from typing import Any

from sqlalchemy import String, bindparam, func, select
from sqlalchemy.orm import Session

from app.db import as_utc, is_postgresql, utcnow
from app.security import Attempt
from traceability.driver_sql import DriverStatement

COUNTERFEIT_BUCKET = "counterfeit_alerts"
COUNTERFEIT_WINDOW = timedelta(hours=1)
SPENT_BUDGETS_KEY = "traceability.spent_budgets"


def _budget_statement() -> DriverStatement:
    """Record one counterfeit alert against a client's budget if it has any left, in one statement (the
    RETURNING row says whether it had): the count and the insert cost one round trip, not two and a flush."""
    attempts = Attempt.__table__
    recent = (
        select(func.count())
        .select_from(attempts)
        .where(
            attempts.c.bucket == bindparam("bucket"),
            attempts.c.key == bindparam("key"),
            attempts.c.occurred_at >= bindparam("since", type_=attempts.c.occurred_at.type),
        )
        .scalar_subquery()
    )
    taken = select(
        bindparam("bucket", type_=attempts.c.bucket.type),
        bindparam("key", type_=attempts.c.key.type),
        bindparam("now", type_=attempts.c.occurred_at.type),
    ).where(recent < bindparam("limit"))
    statement = attempts.insert().from_select(["bucket", "key", "occurred_at"], taken)
    return DriverStatement(statement.returning(attempts.c.id))


def _frees_statement() -> DriverStatement:
    """The time of the `skip`+1-th newest alert in a client's window: once it leaves the window, the client has
    fewer than `skip`+1 alerts in it (on the bucket, key and time index)."""
    attempts = Attempt.__table__
    return DriverStatement(
        select(attempts.c.occurred_at)
        .where(
            attempts.c.bucket == bindparam("bucket"),
            attempts.c.key == bindparam("key"),
            attempts.c.occurred_at >= bindparam("since", type_=attempts.c.occurred_at.type),
        )
        .order_by(attempts.c.occurred_at.desc())
        .offset(bindparam("skip"))
        .limit(1)
    )


COUNTERFEIT_BUDGET = _budget_statement()
BUDGET_FREES = _frees_statement()
# The client's budget is taken under a transaction-scoped advisory lock in this class of keys (any constant no
# other code uses; the two-key space is apart from the one-key locks such as partition maintenance's).
BUDGET_LOCK_CLASS = 110_011
BUDGET_LOCK = DriverStatement(
    select(func.pg_advisory_xact_lock(bindparam("lock_class"), func.hashtext(bindparam("key", type_=String))))
)


class SpentBudgets:
    """The clients this process found past their budget, each with the time its oldest counted alert leaves
    the window. Until then the client stays past it whatever other processes do (they add no alert for it
    either, and only alerts older than the window are ever forgotten), so the answer needs no statement."""

    # An attack from many addresses must not grow a worker without bound; past this the expired go first.
    MAX_CLIENTS = 10_000

    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}
        self._lock = Lock()

    def spent(self, key: str, now: datetime) -> bool:
        """Tell whether the client `key` is known to be past its budget at `now`."""
        until = self._until.get(key)
        return until is not None and now < until

    def remember(self, key: str, until: datetime, now: datetime) -> None:
        """Keep that the client `key` is past its budget until `until`."""
        with self._lock:
            if len(self._until) >= self.MAX_CLIENTS:
                for known in [known for known, when in self._until.items() if when <= now]:
                    del self._until[known]
                if len(self._until) >= self.MAX_CLIENTS:
                    self._until.clear()
            self._until[key] = until


def spent_budgets(extensions: MutableMapping[str, Any]) -> SpentBudgets:
    """Return this process's memory of spent budgets (one per app, kept in its extensions)."""
    return extensions.setdefault(SPENT_BUDGETS_KEY, SpentBudgets())


def within_counterfeit_budget(session: Session, client: str, limit: int, spent: SpentBudgets | None = None) -> bool:
    """Count a counterfeit scan against its client's hourly alert budget; tell whether it may raise alerts.

    The count and the insert are one statement, but under READ COMMITTED two at once would each count
    without the other's uncommitted row and both take the last slot. On PostgreSQL the client's advisory
    lock, held to commit, makes its scans take turns; the count then runs in a statement begun after the
    previous holder committed, so it sees that row. SQLite has one writer at a time already.

    With `spent`, a client found past its budget is remembered until its oldest counted alert leaves the
    window: its scans until then take neither the lock nor a statement (one more statement finds that time)."""
    now = utcnow()
    key = f"client:{client}"
    remembered = f"{limit}:{key}"
    if spent is not None and spent.spent(remembered, now):
        return False
    if is_postgresql(session):
        BUDGET_LOCK.execute(session, {"lock_class": BUDGET_LOCK_CLASS, "key": key})
    window = {"bucket": COUNTERFEIT_BUCKET, "key": key, "since": now - COUNTERFEIT_WINDOW}
    if COUNTERFEIT_BUDGET.first(session, {**window, "now": now, "limit": limit}) is not None:
        return True
    if spent is not None:
        oldest_counted = BUDGET_FREES.first(session, {**window, "skip": limit - 1})
        if oldest_counted is not None:
            spent.remember(remembered, as_utc(oldest_counted.occurred_at) + COUNTERFEIT_WINDOW, now)
    return False
