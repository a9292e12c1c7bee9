"""Touchpoints become leads: one per phone (then VIN), graded, in the territory's pool; sleeping ones wake up."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.crm.models import Notification
from leads.intake import take_in_touchpoints
from leads.models import Lead, LeadActivity, LeadTransition, Reason, Stage
from leads.ownership import claim_lead
from leads.rules import advance_leads
from leads.stages import move_stage
from tests.factories import make_customer, make_vehicle
from tests.leads.helpers import lead_from_touch, local, make_world, settings, touch


def test_touchpoint_becomes_lead_in_territory_pool(session):
    world = make_world(session)

    lead = lead_from_touch(session, local(2026, 3, 2, 10))

    assert (lead.pool_id, lead.channel, lead.stage, lead.consent_basis) == (world.pool.id, "booking", "new", "service")
    assert lead.grade in ("A", "B")


def test_touchpoint_outside_every_territory_goes_to_oem_pool(session):
    world = make_world(session)

    lead = lead_from_touch(session, local(2026, 3, 2, 10), province="Gansu")

    assert lead.pool_id == world.oem_pool.id


def test_second_touchpoint_of_same_phone_adds_activity_not_lead(session):
    make_world(session)
    customer = make_customer(session)
    touch(session, customer, at=local(2026, 3, 2, 10))
    touch(session, customer, at=local(2026, 3, 3, 10), channel="scan", kind="parts")

    take_in_touchpoints(session, settings(), local(2026, 3, 3, 11))

    leads = session.scalars(select(Lead).where(Lead.phone == customer.phone)).all()
    assert len(leads) == 1
    kinds = session.scalars(select(LeadActivity.outcome).where(LeadActivity.lead_id == leads[0].id)).all()
    assert sorted(kinds) == ["booking", "scan"]


def test_touchpoint_with_new_phone_but_known_vin_joins_that_lead(session):
    make_world(session)
    first, second = make_customer(session), make_customer(session)
    truck = make_vehicle(session, owner=first)
    touch(session, first, at=local(2026, 3, 2, 10), vehicle=truck)
    touch(session, second, at=local(2026, 3, 3, 10), vehicle=truck)

    take_in_touchpoints(session, settings(), local(2026, 3, 3, 11))

    assert session.scalar(select(Lead.id).where(Lead.phone == second.phone)) is None
    assert len(session.scalars(select(Lead).where(Lead.vin == truck.vin)).all()) == 1


def test_touchpoint_taken_in_once(session):
    make_world(session)
    lead_from_touch(session, local(2026, 3, 2, 10))

    assert take_in_touchpoints(session, settings(), local(2026, 3, 2, 11)) == 0


def test_grade_rises_with_an_older_truck_and_a_fleet(session):
    make_world(session)
    fleet = make_customer(session)
    trucks = [make_vehicle(session, owner=fleet, odometer_km=400_000) for _ in range(10)]
    trucks[0].sale_date = (local(2026, 3, 2) - timedelta(days=4 * 365)).date()
    touch(session, fleet, at=local(2026, 3, 2, 10), vehicle=trucks[0])
    lonely = make_customer(session)
    touch(session, lonely, at=local(2026, 3, 2, 10))

    take_in_touchpoints(session, settings(), local(2026, 3, 2, 10))

    assert session.scalar(select(Lead.grade).where(Lead.phone == fleet.phone)) == "A"
    assert session.scalar(select(Lead.grade).where(Lead.phone == lonely.phone)) == "C"


def test_pooled_lead_reactivated_by_scan_tells_previous_owner(session):
    world = make_world(session)
    rules = settings()
    lead = lead_from_touch(session, local(2026, 3, 2, 10))
    advance_leads(session, rules, local(2026, 3, 2, 10))
    claim_lead(session, world.sales[0], lead, rules, local(2026, 3, 2, 11))
    advance_leads(session, rules, local(2026, 3, 3, 11))  # no follow-up: back to the pool
    assert lead.owner_id is None

    touch(session, lead.customer, at=local(2026, 4, 12, 9), channel="scan", summary="扫了正品机油滤清器 (郑州)")
    advance_leads(session, rules, local(2026, 4, 12, 9))

    assert lead.reactivated_at == local(2026, 4, 12, 9)
    reasons = session.scalars(select(LeadTransition.reason).where(LeadTransition.lead_id == lead.id)).all()
    assert Reason.REACTIVATED in reasons
    told = session.scalars(select(Notification).where(Notification.kind == "leads.reactivated")).all()
    assert [(n.user_id, n.params["summary"]) for n in told] == [(world.sales[0].id, "扫了正品机油滤清器 (郑州)")]


def test_lost_lead_reopens_on_booking_and_keeps_its_history(session):
    world = make_world(session)
    rules = settings()
    lead = lead_from_touch(session, local(2026, 3, 2, 10))
    advance_leads(session, rules, local(2026, 3, 2, 10))
    claim_lead(session, world.sales[0], lead, rules, local(2026, 3, 2, 11))
    move_stage(session, world.sales[0], lead, Stage.LOST, rules, local(2026, 3, 2, 12), lost_reason="price")
    lead_id = lead.id

    touch(session, lead.customer, at=local(2026, 5, 6, 10))
    advance_leads(session, rules, local(2026, 5, 6, 10))

    session.refresh(lead)
    assert (lead.id, lead.stage, lead.lost_reason) == (lead_id, Stage.SALES, None)
    assert session.scalar(select(Lead.id).where(Lead.phone == lead.phone, Lead.id != lead_id)) is None
    stages = session.scalars(
        select(LeadTransition.to_stage).where(LeadTransition.lead_id == lead.id).order_by(LeadTransition.id)
    ).all()
    assert stages[-3:] == ["lost", "qualified", "sales"]
    managers_told = session.scalars(select(Notification.user_id).where(Notification.kind == "leads.reactivated")).all()
    assert managers_told == [world.sales[0].id]


def test_another_touch_of_a_lead_waiting_for_its_first_claim_is_not_a_reactivation(session):
    make_world(session)
    rules = settings()
    lead = lead_from_touch(session, local(2026, 3, 2, 10))
    advance_leads(session, rules, local(2026, 3, 2, 10))

    touch(session, lead.customer, at=local(2026, 3, 4, 10), channel="scan")
    advance_leads(session, rules, local(2026, 3, 4, 10))

    assert (lead.stage, lead.reactivated_at) == (Stage.SALES, None)
