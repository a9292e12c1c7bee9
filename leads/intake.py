"""Touchpoints become leads: deduplicated by phone then VIN, graded from the truck, woken up when they return."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from app.crm.activity import record_activity
from app.crm.models import ConsentBasis, Customer, Touchpoint, Vehicle
from app.crm.touchpoints import mark_processed, select_unprocessed
from app.security import User
from leads import settings as chunking
from leads.models import Interest, Lead, LeadActivity, Reason, Stage
from leads.notices import tell_reactivated
from leads.ownership import change_owner, record_transition
from leads.settings import LeadsSettings
from leads.team import pool_for_touchpoint
from service.calendars import next_opening

INTEREST_BY_KIND = {
    "maintenance": Interest.MAINTENANCE_PLAN,
    "warranty": Interest.EXTENDED_WARRANTY,
    "new_truck": Interest.NEW_TRUCK,
    "finance": Interest.FINANCE,
}


def grade_lead(
    session: Session, vehicle: Vehicle | None, customer: Customer | None, last_touch: datetime, now: datetime
) -> str:
    """Grade A, B or C from the truck's age and km, the owner's fleet size and how recent the last touch is."""
    score = 0
    if vehicle is not None:
        if vehicle.sale_date is not None:
            years = (last_touch.date() - vehicle.sale_date).days / 365.25
            # Two to six years old: past the warranty, towards the first overhaul, the richest aftermarket years.
            score += 2 if 2 <= years <= 6 else 1
        km = vehicle.odometer_km or 0
        score += 2 if km >= 300_000 else (1 if km >= 100_000 else 0)
    if customer is not None:
        fleet = session.scalar(select(func.count()).select_from(Vehicle).where(Vehicle.owner_id == customer.id)) or 0
        score += 2 if fleet >= 10 else (1 if fleet >= 3 else 0)
    # Every grading follows a touch; an old one (a regrade by a job) counts less.
    score += 1 if last_touch >= now - timedelta(days=30) else 0
    return "A" if score >= 5 else ("B" if score >= 3 else "C")


def find_open_lead(session: Session, phone: str, vin: str | None) -> Lead | None:
    """Return the lead a touchpoint belongs to: the phone's lead not yet won, else the VIN's."""
    lead = session.scalar(select(Lead).where(Lead.phone == phone, Lead.stage != Stage.WON))
    if lead is None and vin:
        lead = session.scalar(select(Lead).where(Lead.vin == vin, Lead.stage != Stage.WON).order_by(Lead.id))
    return lead


def _vehicle_of(session: Session, touchpoint: Touchpoint) -> Vehicle | None:
    if touchpoint.vehicle_id is not None:
        return session.get(Vehicle, touchpoint.vehicle_id)
    if touchpoint.customer_id is not None:
        return session.scalar(select(Vehicle).where(Vehicle.owner_id == touchpoint.customer_id).order_by(Vehicle.id))
    return None


def _add_touch_activity(session: Session, lead: Lead, touchpoint: Touchpoint) -> None:
    session.add(
        LeadActivity(
            lead_id=lead.id,
            kind="touchpoint",
            outcome=touchpoint.channel,
            topic=touchpoint.consent_topic,
            body=touchpoint.summary,
            touchpoint_id=touchpoint.id,
            at=touchpoint.occurred_at,
        )
    )


def take_in(session: Session, touchpoint: Touchpoint, settings: LeadsSettings, now: datetime) -> Lead:
    """Turn one touchpoint into a new lead, an activity on its open lead, or a reactivation of a sleeping one."""
    at = touchpoint.occurred_at
    customer = session.get(Customer, touchpoint.customer_id) if touchpoint.customer_id else None
    vehicle = _vehicle_of(session, touchpoint)
    lead = find_open_lead(session, touchpoint.phone or "", touchpoint.vin)
    if lead is None:
        lead = Lead(
            phone=touchpoint.phone,
            customer_id=touchpoint.customer_id,
            vehicle_id=vehicle.id if vehicle else None,
            vin=touchpoint.vin or (vehicle.vin if vehicle else None),
            channel=touchpoint.channel,
            province=touchpoint.province or (vehicle.province if vehicle else None),
            city=touchpoint.city,
            interest=INTEREST_BY_KIND.get(touchpoint.kind, Interest.PARTS),
            grade=grade_lead(session, vehicle, customer, at, now),
            stage=Stage.NEW,
            consent_basis=touchpoint.consent_basis,
            consent_topic=touchpoint.consent_topic,
            last_touch_at=at,
            created_at=at,
            dispatch_due_at=next_opening(settings.calendar, at),
        )
        lead.pool = pool_for_touchpoint(session, touchpoint, lead.province)
        session.add(lead)
        session.flush()
        record_transition(session, None, lead, to_stage=Stage.NEW, reason=Reason.CREATED, now=at)
        _add_touch_activity(session, lead, touchpoint)
        record_activity(
            session, None, "leads.created", "lead", lead.id, organization_id=lead.pool.organization_id,
            touchpoint=touchpoint.id, channel=lead.channel,
        )  # fmt: skip
        session.flush()
        return lead
    _add_touch_activity(session, lead, touchpoint)
    lead.last_touch_at = max(lead.last_touch_at, at)
    if lead.customer_id is None:
        lead.customer_id = touchpoint.customer_id
    if lead.vehicle_id is None and vehicle is not None:
        lead.vehicle_id, lead.vin = vehicle.id, vehicle.vin
    if touchpoint.consent_basis == ConsentBasis.MARKETING and lead.marketing_opt_out_at is None:
        lead.consent_basis = ConsentBasis.MARKETING
    lead.grade = grade_lead(session, vehicle, customer, at, now)
    if is_sleeping(lead):
        reactivate(session, lead, touchpoint, settings, at)
    session.flush()
    return lead


def is_sleeping(lead: Lead) -> bool:
    """Tell whether a lead sleeps: lost, or back in its pool after someone held it (returned or recycled).

    A lead still waiting for its first claim is not asleep: another touch only adds to it.
    """
    if lead.stage == Stage.LOST:
        return True
    was_held = lead.reclaim_blocked_user_id is not None
    return lead.owner_id is None and was_held and lead.stage in (Stage.QUALIFIED, Stage.SALES)


def reactivate(session: Session, lead: Lead, touchpoint: Touchpoint, settings: LeadsSettings, at: datetime) -> None:
    """Wake a pooled or lost lead: back to qualified in its region's pool, its last owner (or managers) told."""
    previous_id = lead.reclaim_blocked_user_id or lead.owner_id
    pool = pool_for_touchpoint(session, touchpoint, lead.province, lead.pool)
    if lead.owner_id is not None:
        change_owner(session, None, lead, None, Reason.REACTIVATED, settings, at, to_pool=pool)
    from_stage, from_pool = lead.stage, lead.pool_id
    session.execute(
        update(Lead)
        .where(Lead.id == lead.id, Lead.stage == from_stage)
        .values(stage=Stage.QUALIFIED, pool_id=pool.id)
        .execution_options(synchronize_session=False)
    )
    session.expire(lead, ["stage", "pool_id", "pool"])
    lead.reactivated_at, lead.lost_reason = at, None
    lead.dispatch_due_at = next_opening(settings.calendar, at)
    record_transition(
        session, None, lead, from_stage=from_stage, to_stage=Stage.QUALIFIED, reason=Reason.REACTIVATED, now=at,
        from_pool_id=from_pool, note=touchpoint.summary,
    )  # fmt: skip
    previous = session.get(User, previous_id) if previous_id else None
    tell_reactivated(session, lead, previous, touchpoint.summary or touchpoint.channel, settings, at)


def take_in_touchpoints(
    session: Session,
    settings: LeadsSettings,
    now: datetime,
    limit: int = 500,
    checkpoint: Callable[[], None] = chunking.no_checkpoint,
) -> int:
    """Take in up to `limit` touchpoints not yet processed (each claimed first, so two workers never double one),
    calling `checkpoint` after every CHUNK of them; a claimed touchpoint leaves the unprocessed ones either way."""
    done = seen = 0
    while seen < limit:
        chunk = session.scalars(select_unprocessed(min(chunking.CHUNK, limit - seen))).all()
        for touchpoint in chunk:
            if mark_processed(session, touchpoint, now):
                take_in(session, touchpoint, settings, now)
                done += 1
        seen += len(chunk)
        if chunk:
            checkpoint()
        if len(chunk) < chunking.CHUNK:
            break
    return done


def leads_of_customer(session: Session, customer: Customer) -> list[Lead]:
    """Return every lead of a customer (by customer or phone)."""
    return list(session.scalars(select(Lead).where(or_(Lead.customer_id == customer.id, Lead.phone == customer.phone))))


def vehicle_age_years(vehicle: Vehicle | None, today: date) -> float | None:
    """Return a truck's age in years from its sale date."""
    if vehicle is None or vehicle.sale_date is None:
        return None
    return round((today - vehicle.sale_date).days / 365.25, 1)
