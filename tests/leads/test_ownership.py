"""Pools and their rules: claim with a cap and a daily limit, assignment, returns, release, the timers, protection."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.security import Role
from leads.models import Lead, LeadTransition, Reason, Stage
from leads.ownership import assign_lead, auto_assign, claim_lead, release_all, return_lead
from leads.rules import advance_leads, recycle_due
from leads.stages import log_follow_up
from leads.team import add_member, get_lead_for
from network.models import Booking
from tests.factories import make_organization, make_user
from tests.leads.helpers import lead_from_touch, local, make_world, settings
from tests.network.factories import make_shop

MONDAY_10 = local(2026, 3, 2, 10)


def _sales_lead(session, at=MONDAY_10, rules=None, **options):
    lead = lead_from_touch(session, at, rules, **options)
    advance_leads(session, rules or settings(), at)
    assert lead.stage == Stage.SALES
    return lead


def _reasons(session, lead):
    return session.scalars(
        select(LeadTransition.reason).where(LeadTransition.lead_id == lead.id).order_by(LeadTransition.id)
    ).all()


def test_claim_takes_lead_into_private_pool_with_timers(session):
    world = make_world(session)
    lead = _sales_lead(session)

    claim_lead(session, world.sales[0], lead, settings(), MONDAY_10)

    assert lead.owner_id == world.sales[0].id
    assert lead.first_follow_up_due_at == MONDAY_10 + timedelta(hours=24)
    assert lead.recycle_at == MONDAY_10 + timedelta(days=15)


def test_claim_past_cap_is_refused_naming_cap(session):
    world = make_world(session)
    rules = settings(LEADS_CAP=2, LEADS_DAILY_CLAIM_LIMIT=10)
    held = [_sales_lead(session, rules=rules) for _ in range(3)]
    claim_lead(session, world.sales[0], held[0], rules, MONDAY_10)
    claim_lead(session, world.sales[0], held[1], rules, MONDAY_10)

    with pytest.raises(Conflict) as refused:
        claim_lead(session, world.sales[0], held[2], rules, MONDAY_10)

    assert refused.value.field == "cap"


def test_default_cap_is_fifty(session):
    assert settings().cap == 50


def test_daily_claim_limit_resets_at_local_midnight(session):
    world = make_world(session)
    rules = settings(LEADS_DAILY_CLAIM_LIMIT=1)
    first, second = _sales_lead(session, rules=rules), _sales_lead(session, rules=rules)
    claim_lead(session, world.sales[0], first, rules, MONDAY_10)

    with pytest.raises(Conflict) as refused:
        claim_lead(session, world.sales[0], second, rules, local(2026, 3, 2, 23, 59))
    claim_lead(session, world.sales[0], second, rules, local(2026, 3, 3, 0, 1))

    assert refused.value.field == "daily_claim_limit"
    assert second.owner_id == world.sales[0].id


def test_first_follow_up_timeout_returns_lead_at_the_exact_hour(session):
    world = make_world(session)
    rules = settings()
    lead = _sales_lead(session)
    claim_lead(session, world.sales[0], lead, rules, MONDAY_10)

    advance_leads(session, rules, local(2026, 3, 3, 9, 59))
    still_held = lead.owner_id
    advance_leads(session, rules, local(2026, 3, 3, 10, 0))

    assert still_held == world.sales[0].id
    assert lead.owner_id is None
    assert _reasons(session, lead)[-1] == Reason.FIRST_FOLLOW_UP_TIMEOUT


def test_previous_owner_cannot_reclaim_for_twelve_hours(session):
    world = make_world(session)
    rules = settings()
    lead = _sales_lead(session)
    claim_lead(session, world.sales[0], lead, rules, MONDAY_10)
    advance_leads(session, rules, local(2026, 3, 3, 10))

    with pytest.raises(Conflict) as refused:
        claim_lead(session, world.sales[0], lead, rules, local(2026, 3, 3, 11))
    claim_lead(session, world.sales[0], lead, rules, local(2026, 3, 3, 22, 1))

    assert refused.value.field == "reclaim_cooldown"
    assert lead.owner_id == world.sales[0].id


def test_cooldown_does_not_stop_someone_else(session):
    world = make_world(session)
    rules = settings()
    lead = _sales_lead(session)
    claim_lead(session, world.sales[0], lead, rules, MONDAY_10)
    advance_leads(session, rules, local(2026, 3, 3, 10))

    claim_lead(session, world.sales[1], lead, rules, local(2026, 3, 3, 11))

    assert lead.owner_id == world.sales[1].id


def test_idle_lead_returns_after_fifteen_days_without_follow_up(session):
    world = make_world(session)
    rules = settings()
    lead = _sales_lead(session)
    claim_lead(session, world.sales[0], lead, rules, MONDAY_10)
    log_follow_up(session, world.sales[0], lead, kind="call", outcome="reached", body="", settings=rules,
                  now=local(2026, 3, 2, 15))  # fmt: skip

    advance_leads(session, rules, local(2026, 3, 17, 14, 59))
    held_at_day_15_minus = lead.owner_id
    advance_leads(session, rules, local(2026, 3, 17, 15))

    assert held_at_day_15_minus == world.sales[0].id
    assert lead.owner_id is None
    assert _reasons(session, lead)[-1] == Reason.IDLE


def test_lead_with_open_booking_is_protected_from_recycling(session):
    world = make_world(session)
    rules = settings()
    lead = _sales_lead(session)
    claim_lead(session, world.sales[0], lead, rules, MONDAY_10)
    shop = make_shop(session)
    session.add(
        Booking(shop=shop, customer=lead.customer, vehicle=lead.vehicle, booked_by_id=world.sales[0].id,
                service="maintenance", start=local(2026, 3, 5, 9), end=local(2026, 3, 5, 10))
    )  # fmt: skip
    session.flush()

    counts = recycle_due(session, rules, local(2026, 3, 3, 11))

    assert counts["protected"] == 1
    assert lead.owner_id == world.sales[0].id


def test_manager_assignment_respects_cap_unless_forced_with_a_note(session):
    world = make_world(session)
    rules = settings(LEADS_CAP=1)
    first, second = _sales_lead(session, rules=rules), _sales_lead(session, rules=rules)
    assign_lead(session, world.manager, first, world.sales[0], rules, MONDAY_10)

    with pytest.raises(Conflict):
        assign_lead(session, world.manager, second, world.sales[0], rules, MONDAY_10)
    with pytest.raises(InvalidInput):
        assign_lead(session, world.manager, second, world.sales[0], rules, MONDAY_10, force=True)
    assign_lead(session, world.manager, second, world.sales[0], rules, MONDAY_10, force=True, note="key account")

    assert second.owner_id == world.sales[0].id
    assert second.first_follow_up_due_at == MONDAY_10 + timedelta(hours=24)


def test_salesperson_cannot_assign(session):
    world = make_world(session)
    lead = _sales_lead(session)

    with pytest.raises(Forbidden):
        assign_lead(session, world.sales[0], lead, world.sales[1], settings(), MONDAY_10)


def test_return_needs_a_reason_and_blocks_reclaim(session):
    world = make_world(session)
    rules = settings()
    lead = _sales_lead(session)
    claim_lead(session, world.sales[0], lead, rules, MONDAY_10)

    with pytest.raises(InvalidInput):
        return_lead(session, world.sales[0], lead, " ", rules, MONDAY_10)
    return_lead(session, world.sales[0], lead, "wrong region", rules, MONDAY_10)

    assert (lead.owner_id, lead.reclaim_blocked_user_id) == (None, world.sales[0].id)
    assert lead.first_follow_up_due_at is None and lead.recycle_at is None


def test_release_all_returns_every_lead_of_a_leaver(session):
    world = make_world(session)
    rules = settings()
    held = [_sales_lead(session) for _ in range(3)]
    for lead in held:
        claim_lead(session, world.sales[0], lead, rules, MONDAY_10)

    released = release_all(session, world.manager, world.sales[0], rules, MONDAY_10)

    assert released == 3
    assert all(lead.owner_id is None for lead in held)
    assert [_reasons(session, lead)[-1] for lead in held] == [Reason.RELEASED] * 3


@pytest.mark.parametrize("path", ["claim", "assign", "auto"])
def test_every_ownership_path_sets_the_timers(session, path):
    world = make_world(session)
    rules = settings()
    lead = _sales_lead(session)

    if path == "claim":
        claim_lead(session, world.sales[0], lead, rules, MONDAY_10)
    elif path == "assign":
        assign_lead(session, world.manager, lead, world.sales[0], rules, MONDAY_10)
    else:
        auto_assign(session, lead, rules, MONDAY_10, random.Random(1))

    assert lead.assigned_at == MONDAY_10
    assert lead.first_follow_up_due_at == MONDAY_10 + rules.first_follow_up
    assert lead.recycle_at == MONDAY_10 + rules.idle


def test_auto_assignment_is_fair_with_random_ties(session):
    world = make_world(session, salespeople=3)
    rules = settings()
    world.pool.auto_assign = True
    leads = [lead_from_touch(session, MONDAY_10) for _ in range(30)]
    inactive = make_user(session, Role.DEALER_STAFF, world.dealer)
    add_member(session, world.manager, inactive).is_active = False

    advance_leads(session, rules, MONDAY_10, random.Random(7))

    counts = Counter(lead.owner_id for lead in leads)
    assert sorted(counts.values()) == [10, 10, 10]
    assert inactive.id not in counts


def test_salesperson_cannot_see_another_dealers_lead(session):
    world = make_world(session)
    lead = _sales_lead(session)
    other_dealer = make_organization(session, kind="dealer", province="Hebei")
    outsider = make_user(session, Role.DEALER_STAFF, other_dealer)
    add_member(session, world.oem_admin, outsider)

    with pytest.raises(NotFound):
        get_lead_for(session, outsider, lead.id)
    with pytest.raises(Forbidden):
        claim_lead(session, outsider, lead, settings(), MONDAY_10)


def test_lead_stage_is_unchanged_by_ownership_moves(session):
    world = make_world(session)
    lead = _sales_lead(session)

    claim_lead(session, world.sales[0], lead, settings(), MONDAY_10)

    assert session.scalar(select(Lead.stage).where(Lead.id == lead.id)) == Stage.SALES
