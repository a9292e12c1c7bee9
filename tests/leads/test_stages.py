"""Stages: dispatch only inside working hours (weekends and Chinese holidays wait), won and lost, consent limits."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.crm.models import Notification
from app.crm.notifications import preference_of, set_marketing_consent
from app.errors import Forbidden, InvalidInput
from leads.models import LeadTransition, Stage
from leads.ownership import claim_lead
from leads.rules import advance_leads
from leads.stages import log_follow_up, move_stage, opt_out, send_marketing
from tests.factories import make_user
from tests.leads.helpers import lead_from_touch, local, make_world, settings


def _dispatched_at(session, lead):
    return session.scalar(
        select(LeadTransition.at).where(LeadTransition.lead_id == lead.id, LeadTransition.to_stage == Stage.SALES)
    )


def test_lead_at_two_in_the_morning_is_dispatched_at_half_past_eight(session):
    make_world(session)
    rules = settings()
    lead = lead_from_touch(session, local(2026, 3, 3, 2))

    for hour, minute in ((2, 0), (8, 29), (8, 30)):
        advance_leads(session, rules, local(2026, 3, 3, hour, minute))

    assert _dispatched_at(session, lead) == local(2026, 3, 3, 8, 30)


def test_lead_on_saturday_waits_for_monday(session):
    make_world(session)
    rules = settings()
    lead = lead_from_touch(session, local(2026, 3, 7, 11))

    advance_leads(session, rules, local(2026, 3, 7, 11))
    advance_leads(session, rules, local(2026, 3, 8, 10))
    weekend_stage = lead.stage
    advance_leads(session, rules, local(2026, 3, 9, 8, 30))

    assert weekend_stage == Stage.NEW
    assert _dispatched_at(session, lead) == local(2026, 3, 9, 8, 30)


def test_an_auto_assigned_lead_of_saturday_night_tells_its_salesperson_on_monday_morning(session):
    world = make_world(session, salespeople=1)
    world.pool.auto_assign = True
    rules = settings()
    lead = lead_from_touch(session, local(2026, 3, 7, 2))

    advance_leads(session, rules, local(2026, 3, 7, 2))
    advance_leads(session, rules, local(2026, 3, 8, 23, 59))
    told_at_the_weekend = session.scalars(select(Notification).where(Notification.user_id == world.sales[0].id)).all()
    advance_leads(session, rules, local(2026, 3, 9, 8, 30))

    told = session.scalars(select(Notification).where(Notification.user_id == world.sales[0].id)).all()
    assert told_at_the_weekend == []
    assert lead.owner_id == world.sales[0].id
    assert told and {note.created_at for note in told} == {local(2026, 3, 9, 8, 30)}


def test_lead_in_national_day_holiday_waits_for_the_first_working_day(session):
    make_world(session)
    rules = settings()
    # 1-7 October 2025 are holidays (a Wednesday to a Tuesday); Wednesday 8 October as well; 9 October works.
    lead = lead_from_touch(session, local(2025, 10, 2, 10))

    advance_leads(session, rules, local(2025, 10, 6, 10))
    holiday_stage = lead.stage
    advance_leads(session, rules, local(2025, 10, 9, 8, 30))

    assert holiday_stage == Stage.NEW
    assert _dispatched_at(session, lead) == local(2025, 10, 9, 8, 30)


def test_low_grade_lead_stays_new(session):
    make_world(session)
    rules = settings(LEADS_QUALIFY_GRADE="A")
    lead = lead_from_touch(session, local(2026, 3, 2, 10), rules)

    advance_leads(session, rules, local(2026, 3, 2, 10))

    assert lead.stage == Stage.NEW


def _held_lead(session, world, rules=None, **options):
    rules = rules or settings()
    lead = lead_from_touch(session, local(2026, 3, 2, 10), rules, **options)
    advance_leads(session, rules, local(2026, 3, 2, 10))
    claim_lead(session, world.sales[0], lead, rules, local(2026, 3, 2, 10))
    return lead


def test_lost_needs_a_listed_reason(session):
    world = make_world(session)
    rules = settings()
    lead = _held_lead(session, world)

    with pytest.raises(InvalidInput) as missing:
        move_stage(session, world.sales[0], lead, Stage.LOST, rules, local(2026, 3, 2, 11))
    with pytest.raises(InvalidInput):
        move_stage(session, world.sales[0], lead, Stage.LOST, rules, local(2026, 3, 2, 11), lost_reason="bored")
    move_stage(session, world.sales[0], lead, Stage.LOST, rules, local(2026, 3, 2, 11), lost_reason="price")

    assert missing.value.field == "lost_reason"
    assert (lead.stage, lead.lost_reason, lead.owner_id) == (Stage.LOST, "price", None)


def test_won_keeps_the_owner_and_stops_the_timers(session):
    world = make_world(session)
    rules = settings()
    lead = _held_lead(session, world)

    move_stage(session, world.sales[0], lead, Stage.WON, rules, local(2026, 3, 2, 11))

    assert (lead.stage, lead.owner_id, lead.recycle_at) == (Stage.WON, world.sales[0].id, None)


def test_another_salesperson_cannot_follow_up_or_convert(session):
    world = make_world(session)
    lead = _held_lead(session, world)

    with pytest.raises(Forbidden):
        log_follow_up(session, world.sales[1], lead, kind="call", outcome="reached", body="", settings=settings(),
                      now=local(2026, 3, 2, 11))  # fmt: skip
    with pytest.raises(Forbidden):
        move_stage(session, world.sales[1], lead, Stage.WON, settings(), local(2026, 3, 2, 11))


def test_service_basis_lead_is_followed_up_on_that_service_only(session):
    world = make_world(session)
    lead = _held_lead(session, world)

    log_follow_up(session, world.sales[0], lead, kind="call", outcome="reached", body="", settings=settings(),
                  now=local(2026, 3, 2, 11), topic="maintenance")  # fmt: skip
    with pytest.raises(Forbidden) as refused:
        log_follow_up(session, world.sales[0], lead, kind="call", outcome="reached", body="", settings=settings(),
                      now=local(2026, 3, 2, 11), topic="extended_warranty")  # fmt: skip

    assert refused.value.field == "topic"


def test_marketing_needs_an_opt_in_and_opt_out_is_one_tap(session):
    world = make_world(session)
    rules = settings()
    driver = make_user(session, "driver")
    service_lead = _held_lead(session, world)
    with pytest.raises(Forbidden):
        send_marketing(session, world.sales[0], service_lead, "延保优惠", rules, local(2026, 3, 2, 11))
    lead = lead_from_touch(session, local(2026, 3, 2, 10), consent_basis="marketing", version="mkt-2026-01")
    lead.customer.user_id = driver.id
    advance_leads(session, rules, local(2026, 3, 2, 10))
    claim_lead(session, world.sales[0], lead, rules, local(2026, 3, 2, 10))
    set_marketing_consent(session, driver.id, True, local(2026, 3, 2, 10), "mkt-2026-01")

    sent = send_marketing(session, world.sales[0], lead, "延保优惠", rules, local(2026, 3, 2, 11))
    opt_out(session, driver, lead.customer, local(2026, 3, 2, 12))
    with pytest.raises(Forbidden):
        send_marketing(session, world.sales[0], lead, "再次优惠", rules, local(2026, 3, 2, 13))

    assert sent == 1
    assert preference_of(session, driver.id).marketing_opt_in is False
    assert session.scalar(select(Notification.text).where(Notification.user_id == driver.id)) == "延保优惠"
    log_follow_up(session, world.sales[0], lead, kind="call", outcome="reached", body="", settings=rules,
                  now=local(2026, 3, 2, 14))  # fmt: skip
