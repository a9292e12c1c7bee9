"""Claims under contention, on the real database: one owner per lead, and a cap that holds."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.db import make_sessionmaker
from app.security import User
from leads.models import Lead, LeadTransition, Reason
from leads.ownership import claim_lead
from leads.rules import advance_leads
from tests.leads.helpers import lead_from_touch, local, make_world, settings
from tests.races import race

MONDAY_10 = local(2026, 3, 2, 10)


@pytest.mark.slow
def test_twenty_salespeople_claiming_one_lead_leave_exactly_one_owner(committed_engine):
    maker = make_sessionmaker(committed_engine)
    rules = settings()
    with maker() as setup:
        world = make_world(setup, salespeople=20)
        lead = lead_from_touch(setup, MONDAY_10)
        advance_leads(setup, rules, MONDAY_10)
        setup.commit()
        lead_id, people = lead.id, [(user.id,) for user in world.sales]

    def prepare(session, user_id: int):
        user, target = session.get(User, user_id), session.get(Lead, lead_id)
        target.pool  # noqa: B018 (load it before the race)
        return lambda: claim_lead(session, user, target, rules, MONDAY_10)

    outcomes = race(maker, prepare, people)

    assert sorted(outcomes) == ["conflict"] * 19 + ["ok"]
    with maker() as check:
        claims = check.scalar(
            select(func.count()).select_from(LeadTransition).where(LeadTransition.reason == Reason.CLAIM)
        )
        assert claims == 1
        assert check.get(Lead, lead_id).owner_id is not None


@pytest.mark.slow
def test_one_salesperson_claiming_twenty_leads_at_once_stops_at_the_cap(committed_engine):
    maker = make_sessionmaker(committed_engine)
    rules = settings(LEADS_CAP=5, LEADS_DAILY_CLAIM_LIMIT=100)
    with maker() as setup:
        world = make_world(setup, salespeople=1)
        leads = [lead_from_touch(setup, MONDAY_10, rules) for _ in range(20)]
        advance_leads(setup, rules, MONDAY_10)
        setup.commit()
        user_id, lead_ids = world.sales[0].id, [(lead.id,) for lead in leads]

    def prepare(session, lead_id: int):
        user, target = session.get(User, user_id), session.get(Lead, lead_id)
        target.pool  # noqa: B018 (load it before the race)
        return lambda: claim_lead(session, user, target, rules, MONDAY_10)

    outcomes = race(maker, prepare, lead_ids)

    assert sorted(outcomes) == ["conflict"] * 15 + ["ok"] * 5
    with maker() as check:
        assert check.scalar(select(func.count()).select_from(Lead).where(Lead.owner_id == user_id)) == 5
