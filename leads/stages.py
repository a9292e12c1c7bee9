"""Stages and follow-ups: logged calls, the consent limits on them, won and lost, and dispatch in working hours."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from app.crm.activity import record_activity
from app.crm.models import ConsentBasis, Customer
from app.crm.notifications import MARKETING, notify, set_marketing_consent
from app.errors import Conflict, Forbidden, InvalidInput
from app.security import User
from leads import settings as chunking
from leads.models import OPEN_STAGES, Lead, LeadActivity, Reason, Stage
from leads.ownership import auto_assign, change_owner, may_work, record_transition
from leads.settings import GRADES, LeadsSettings
from leads.team import home_pool
from service.calendars import is_open_at, next_opening

FOLLOW_UP_KINDS = ("call", "message", "visit")
OUTCOMES = ("reached", "no_answer", "call_back", "interested", "not_interested")
MARKETING_TOPICS = ("extended_warranty", "new_truck", "finance", "maintenance_plan", "campaign")


def check_topic(lead: Lead, topic: str) -> None:
    """Refuse a follow-up topic the lead's consent does not cover (service basis: that service only)."""
    if topic == lead.consent_topic or not topic:
        return
    if lead.consent_basis != ConsentBasis.MARKETING or lead.marketing_opt_out_at is not None:
        raise Forbidden(
            "this person asked about %(topic)s only; other offers need their marketing opt-in",
            field="topic",
            topic=lead.consent_topic,
        )


def log_follow_up(
    session: Session,
    actor: User,
    lead: Lead,
    *,
    kind: str,
    outcome: str,
    body: str,
    settings: LeadsSettings,
    now: datetime,
    topic: str = "",
) -> LeadActivity:
    """Log a call, message or visit with its outcome; it stops the first-follow-up clock and restarts the idle one."""
    if not may_work(session, actor, lead):
        raise Forbidden("only the lead's owner or its managers follow it up")
    if lead.stage not in OPEN_STAGES:
        raise Conflict("this lead is closed", field="lead")
    if kind not in FOLLOW_UP_KINDS:
        raise InvalidInput("kind is call, message or visit", field="kind")
    if outcome not in OUTCOMES:
        raise InvalidInput("pick an outcome", field="outcome")
    check_topic(lead, topic)
    activity = LeadActivity(
        lead_id=lead.id, user_id=actor.id, kind=kind, outcome=outcome, topic=topic or lead.consent_topic,
        body=body.strip()[:1000], at=now,
    )  # fmt: skip
    session.add(activity)
    lead.last_follow_up_at = now
    lead.first_follow_up_due_at = None
    if lead.owner_id is not None:
        lead.recycle_at = now + settings.idle
    record_activity(
        session, actor, "leads.followed_up", "lead", lead.id, organization_id=lead.pool.organization_id, kind=kind
    )
    session.flush()
    return activity


def _move_stage(session: Session, actor: User | None, lead: Lead, to_stage: str, reason: str, now: datetime,
                note: str = "") -> None:  # fmt: skip
    from_stage = lead.stage
    result = session.execute(
        update(Lead)
        .where(Lead.id == lead.id, Lead.stage == from_stage)
        .values(stage=to_stage)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict("someone else changed this lead first; reload it", field="lead")
    set_committed_value(lead, "stage", to_stage)
    record_transition(
        session, actor, lead, from_stage=from_stage, to_stage=to_stage, reason=reason, now=now,
        from_owner_id=lead.owner_id, from_pool_id=lead.pool_id, note=note,
    )  # fmt: skip


def move_stage(
    session: Session,
    actor: User,
    lead: Lead,
    to_stage: str,
    settings: LeadsSettings,
    now: datetime,
    *,
    lost_reason: str | None = None,
    note: str = "",
) -> None:
    """Move a lead on by hand: to sales (qualified by a call), won (converted) or lost (with a listed reason)."""
    if not may_work(session, actor, lead):
        raise Forbidden("only the lead's owner or its managers move it")
    if lead.stage not in OPEN_STAGES:
        raise Conflict("this lead is closed", field="lead")
    if to_stage == Stage.LOST:
        if not lost_reason:
            raise InvalidInput("say why the lead was lost", field="lost_reason")
        if lost_reason not in settings.lost_reasons:
            raise InvalidInput("pick one of the listed reasons", field="lost_reason")
        lead.lost_reason = lost_reason
        _move_stage(session, actor, lead, Stage.LOST, Reason.LOST, now, lost_reason)
        if lead.owner_id is not None:
            change_owner(session, actor, lead, None, Reason.LOST, settings, now, note=lost_reason)
    elif to_stage == Stage.WON:
        if lead.stage != Stage.SALES:
            _move_stage(session, actor, lead, Stage.SALES, Reason.ADVANCED, now)
        _move_stage(session, actor, lead, Stage.WON, Reason.WON, now, note)
        # The owner keeps the won customer; the rules' timers stop.
        lead.first_follow_up_due_at = lead.recycle_at = None
    elif to_stage == Stage.SALES and lead.stage in (Stage.NEW, Stage.QUALIFIED):
        if lead.stage == Stage.NEW:
            _move_stage(session, actor, lead, Stage.QUALIFIED, Reason.ADVANCED, now)
        _move_stage(session, actor, lead, Stage.SALES, Reason.ADVANCED, now)
        lead.dispatch_due_at = None
    else:
        raise InvalidInput("a lead moves to sales, won or lost", field="stage")
    record_activity(
        session, actor, "leads.stage_changed", "lead", lead.id, organization_id=lead.pool.organization_id,
        stage=to_stage, lost_reason=lost_reason,
    )  # fmt: skip
    session.flush()


def qualifies(lead: Lead, settings: LeadsSettings) -> bool:
    """Tell whether a new lead may go on to sales: a good enough grade and a consent on record."""
    return GRADES.index(lead.grade) <= GRADES.index(settings.qualify_grade) and lead.consent_basis != ConsentBasis.NONE


def dispatch_due(
    session: Session,
    settings: LeadsSettings,
    now: datetime,
    rng: random.Random | None = None,
    checkpoint: Callable[[], None] = chunking.no_checkpoint,
    limit: int = 500,
) -> int:
    """Dispatch the leads whose dispatch time has come, only while working hours are open (02:00 waits for 08:30);
    up to `limit`, calling `checkpoint` after every CHUNK (each lead read afresh: a salesperson may have acted)."""
    if not is_open_at(settings.calendar, now):
        return 0
    moved = seen = 0
    while seen < limit:
        chunk = session.scalars(
            select(Lead)
            .where(Lead.dispatch_due_at.is_not(None), Lead.dispatch_due_at <= now, Lead.owner_id.is_(None))
            .order_by(Lead.dispatch_due_at, Lead.id)
            .limit(min(chunking.CHUNK, limit - seen))
            .execution_options(populate_existing=True)
        ).all()
        moved += _dispatch(session, chunk, settings, now, rng)
        seen += len(chunk)
        if chunk:
            checkpoint()
        if len(chunk) < chunking.CHUNK:
            break
    return moved


def _dispatch(
    session: Session, due: list[Lead], settings: LeadsSettings, now: datetime, rng: random.Random | None
) -> int:
    """Dispatch each of `due` (every one leaves the due leads: its dispatch time is cleared); count those moved."""
    moved = 0
    for lead in due:
        lead.dispatch_due_at = None
        if lead.stage == Stage.NEW:
            if not qualifies(lead, settings):
                continue
            _move_stage(session, None, lead, Stage.QUALIFIED, Reason.DISPATCHED, now)
        if lead.stage != Stage.QUALIFIED:
            continue
        pool = home_pool(session, lead.pool, lead.province)
        lead.pool = pool
        _move_stage(session, None, lead, Stage.SALES, Reason.DISPATCHED, now)
        if pool.auto_assign:
            auto_assign(session, lead, settings, now, rng)
        moved += 1
    session.flush()
    return moved


def schedule_dispatch(lead: Lead, settings: LeadsSettings, now: datetime) -> None:
    """Set when a lead is next dispatched: now in working hours, else at the next opening."""
    lead.dispatch_due_at = next_opening(settings.calendar, now)


def send_marketing(session: Session, actor: User, lead: Lead, text: str, settings: LeadsSettings, now: datetime) -> int:
    """Send a marketing message to the lead's driver; refused without their opt-in or after their opt-out."""
    if not may_work(session, actor, lead):
        raise Forbidden("only the lead's owner or its managers message it")
    if lead.consent_basis != ConsentBasis.MARKETING or lead.marketing_opt_out_at is not None:
        raise Forbidden("this person has not opted in to marketing messages", field="consent")
    customer = session.get(Customer, lead.customer_id) if lead.customer_id else None
    user = session.get(User, customer.user_id) if customer and customer.user_id else None
    if user is None:
        raise Conflict("this person has no account to message", field="lead")
    written = notify(session, user, "leads.offer", text, now=now, zone=settings.zone, purpose=MARKETING)
    if not written:
        raise Forbidden("this person has not opted in to marketing messages", field="consent")
    return len(written)


def opt_out(session: Session, actor: User, customer: Customer, now: datetime) -> int:
    """One tap: no more marketing to this driver, on any lead; the consent proofs (touchpoints) are kept."""
    if customer.user_id != actor.id:
        raise Forbidden("only the person themselves opts out here")
    result = session.execute(
        update(Lead)
        .where((Lead.customer_id == customer.id) | (Lead.phone == customer.phone), Lead.marketing_opt_out_at.is_(None))
        .values(marketing_opt_out_at=now)
        .execution_options(synchronize_session=False)
    )
    set_marketing_consent(session, actor.id, False, now)
    record_activity(session, actor, "leads.marketing_opt_out", "customer", customer.id, leads=result.rowcount or 0)
    return result.rowcount or 0
