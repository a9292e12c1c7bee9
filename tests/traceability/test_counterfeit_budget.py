"""A client's hourly counterfeit-alert budget, remembered in the process once spent: the flood's later scans
run no budget statement, and the budget frees exactly when its oldest counted alert leaves the hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from app.security import Attempt
from tests.hand_clock import HandClock
from tests.statements import statements_of
from traceability import counterfeit_budget
from traceability.counterfeit_budget import (
    COUNTERFEIT_BUCKET,
    COUNTERFEIT_WINDOW,
    SpentBudgets,
    within_counterfeit_budget,
)

START = datetime(2026, 6, 1, 8, 0, tzinfo=UTC)
CLIENT = "203.0.113.9"


@pytest.fixture
def clock(monkeypatch) -> HandClock:
    clock = HandClock(START)
    monkeypatch.setattr(counterfeit_budget, "utcnow", clock)
    return clock


def _counted(session) -> int:
    return session.scalar(select(func.count()).select_from(Attempt).where(Attempt.bucket == COUNTERFEIT_BUCKET))


def test_a_spent_budget_is_remembered_until_its_oldest_alert_leaves_the_hour(session, clock):
    spent = SpentBudgets()
    taken = []
    for minute in (0, 10):
        clock.now = START + timedelta(minutes=minute)
        taken.append(within_counterfeit_budget(session, CLIENT, 2, spent))
    clock.now = START + timedelta(minutes=20)
    refused = within_counterfeit_budget(session, CLIENT, 2, spent)

    clock.now = START + COUNTERFEIT_WINDOW - timedelta(seconds=1)
    remembered, without_statements = statements_of(
        session, lambda: within_counterfeit_budget(session, CLIENT, 2, spent)
    )
    clock.now = START + COUNTERFEIT_WINDOW + timedelta(seconds=1)  # the first alert has left the hour
    freed = within_counterfeit_budget(session, CLIENT, 2, spent)
    refused_again = within_counterfeit_budget(session, CLIENT, 2, spent)

    assert taken == [True, True] and refused is False
    assert remembered is False and without_statements == []
    assert freed is True and refused_again is False
    assert _counted(session) == 3


def test_the_memory_is_per_client_and_per_budget(session, clock):
    spent = SpentBudgets()
    for _ in range(3):
        within_counterfeit_budget(session, CLIENT, 2, spent)

    other_client = within_counterfeit_budget(session, "198.51.100.20", 2, spent)
    larger_budget = within_counterfeit_budget(session, CLIENT, 5, spent)

    assert other_client is True and larger_budget is True


def test_without_a_memory_every_scan_asks_the_database(session, clock):
    for _ in range(3):
        within_counterfeit_budget(session, CLIENT, 2)

    refused, statements = statements_of(session, lambda: within_counterfeit_budget(session, CLIENT, 2))

    assert refused is False and statements


def test_the_memory_stays_bounded_under_many_addresses(monkeypatch):
    monkeypatch.setattr(SpentBudgets, "MAX_CLIENTS", 3)
    spent = SpentBudgets()
    for number in range(3):
        spent.remember(f"client:{number}", START - timedelta(seconds=1), START)  # already expired
    spent.remember("client:live", START + timedelta(minutes=5), START)
    for number in range(5):
        spent.remember(f"client:new{number}", START + timedelta(minutes=5), START)

    assert len(spent._until) <= 3
    assert spent.spent("client:new4", START)
