"""Erasure finds a person's staff notifications and rate-limit attempts through an index (PostgreSQL only).

Both tables grow with use (a million rows is a few months of sign-ins and lead notices): a scan of either per
erasure would read it whole. As tests/bench/test_query_plans.py does, the plan of every statement the erasure runs
is recorded (auto_explain, sent back as notices) with sequential scans priced out: the planner still picks one only
where no index can serve the query.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select, text

from app.config import load_settings
from app.crm.models import Notification
from app.crm.personal_data import erase_person
from app.db import utcnow
from app.security import Attempt, Role
from tests.app.crm.personal_data_world import make_two
from tests.bench.test_query_plans import MARKER, RECORDING, Recorder
from tests.factories import make_user

pytestmark = pytest.mark.skipif(
    not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"), reason="query plans are PostgreSQL's"
)
SEARCHED = frozenset({"notifications", "attempts"})
FENCE = f"SELECT 1 {MARKER}"


def _index_columns(session) -> dict[str, str]:
    rows = session.execute(
        text(
            """SELECT c.relname, a.attname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
                 JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]"""
        )
    )
    return dict(rows.all())


def _whole_reads(plan: dict, leading: dict[str, str]) -> Iterator[str]:
    """Yield each node that reads notifications or attempts whole, or walks an index it does not constrain."""
    relation = plan.get("Relation Name") or ""
    index = plan.get("Index Name") or ""
    if relation in SEARCHED or any(
        index.startswith(f"{prefix}_{table}") for prefix in ("ix", "uq") for table in SEARCHED
    ):
        condition = plan.get("Index Cond", "")
        if plan["Node Type"] == "Seq Scan":
            yield f"Seq Scan on {relation}"
        elif index and not any(f"({leading.get(index, '?')}{end}" in condition for end in (" ", ")")):
            yield f"{plan['Node Type']} using {index} without a condition on its first column: {condition!r}"
    for child in plan.get("Plans", ()):
        yield from _whole_reads(child, leading)


def _record_plans(session, action) -> list[dict]:
    recorder = Recorder()
    driver = session.connection().connection.driver_connection
    for statement in RECORDING:
        session.execute(text(statement))
    driver.add_notice_handler(recorder.notice)
    try:
        session.execute(text(FENCE))
        recorder.recording = True
        action()
        # PostgreSQL reports a statement's plan when its portal closes: at the next statement.
        session.execute(text(FENCE))
    finally:
        recorder.recording = False
        driver.remove_notice_handler(recorder.notice)
    return [plan for plan in recorder.plans if MARKER not in plan["Query Text"]]


def test_erasure_reads_notifications_and_attempts_through_an_index(session):
    person, _other = make_two(session)
    oem = make_user(session, Role.OEM_ADMIN)
    told = select(func.count()).select_from(Notification).where(Notification.user_id != person.user.id)
    assert session.scalar(told) and session.scalar(select(func.count()).select_from(Attempt))
    settings = load_settings({}, environ={})

    plans = _record_plans(
        session, lambda: erase_person(session, oem, person.customer, settings, utcnow(), reason="SR-000124")
    )

    leading = _index_columns(session)
    searched = [plan for plan in plans if any(name in plan["Query Text"] for name in SEARCHED)]
    problems = [
        f"{problem}\n    {plan['Query Text'][:300]}"
        for plan in searched
        for problem in _whole_reads(plan["Plan"], leading)
    ]
    assert searched, "the erasure ran no statement on notifications or attempts"
    assert problems == []
