"""Every change of a lead's owner goes through `change_owner`: claim, assignment, auto-assignment, return,
release and the rules' recycling. It is one conditional UPDATE that also sets the timers (first follow-up due,
recycle date, the previous owner's reclaim block), so no path can leave a held lead without its return dates.
"""

from __future__ import annotations

import random
from datetime import datetime

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.attributes import set_committed_value

from app.crm.activity import record_activity
from app.errors import Conflict, Forbidden, InvalidInput
from app.security import User, is_oem
from leads.models import OPEN_STAGES, Lead, LeadPool, LeadTransition, Reason, SalesMember, Stage, TeamRole
from leads.notices import tell_assigned, tell_returned
from leads.settings import LeadsSettings
from leads.team import find_member, list_members, require_manager_of, require_salesperson
from network.booking import ACTIVE_STATES
from network.models import Booking


def held_count(session: Session, user_id: int) -> int:
    """Return how many open leads a user holds (their private pool's size)."""
    return session.scalar(
        select(func.count()).select_from(Lead).where(Lead.owner_id == user_id, Lead.stage.in_(OPEN_STAGES))
    )


def cap_of(member: SalesMember, settings: LeadsSettings) -> int:
    """Return how many leads a member may hold."""
    return member.cap or settings.cap


def is_protected(session: Session, lead: Lead) -> bool:
    """Tell whether the lead has an open booking (the rules never take such a lead from its owner)."""
    conditions = []
    if lead.customer_id is not None:
        conditions.append(Booking.customer_id == lead.customer_id)
    if lead.vehicle_id is not None:
        conditions.append(Booking.vehicle_id == lead.vehicle_id)
    if not conditions:
        return False
    found = session.scalar(select(Booking.id).where(or_(*conditions), Booking.status.in_(ACTIVE_STATES)).limit(1))
    return found is not None


def record_transition(
    session: Session,
    actor: User | None,
    lead: Lead,
    *,
    to_stage: str,
    reason: str,
    now: datetime,
    from_stage: str | None = None,
    from_owner_id: int | None = None,
    from_pool_id: int | None = None,
    note: str = "",
) -> LeadTransition:
    """Append one row to the lead's transition log (the funnel reads nothing else)."""
    row = LeadTransition(
        lead_id=lead.id,
        from_stage=from_stage,
        to_stage=to_stage,
        from_pool_id=from_pool_id,
        to_pool_id=lead.pool_id,
        from_owner_id=from_owner_id,
        to_owner_id=lead.owner_id,
        reason=reason,
        note=note[:200],
        actor_id=actor.id if actor is not None else None,
        at=now,
    )
    session.add(row)
    session.flush()
    return row


def change_owner(
    session: Session,
    actor: User | None,
    lead: Lead,
    to_owner: User | None,
    reason: str,
    settings: LeadsSettings,
    now: datetime,
    *,
    to_pool: LeadPool | None = None,
    cap: int | None = None,
    respect_cooldown: bool = False,
    note: str = "",
) -> None:
    """Move a lead to `to_owner` (None: back to its pool) if nobody moved it first, with every timer set."""
    from_owner_id, from_pool_id = lead.owner_id, lead.pool_id
    to_owner_id = to_owner.id if to_owner is not None else None
    values: dict = {"owner_id": to_owner_id, "pool_id": to_pool.id if to_pool is not None else lead.pool_id}
    if to_owner_id is not None:
        values |= {
            "assigned_at": now,
            "first_follow_up_due_at": now + settings.first_follow_up,
            "recycle_at": now + settings.idle,
        }
    else:
        values |= {"assigned_at": None, "first_follow_up_due_at": None, "recycle_at": None}
    if from_owner_id is not None and from_owner_id != to_owner_id:
        values |= {"reclaim_blocked_user_id": from_owner_id, "reclaim_blocked_until": now + settings.reclaim_cooldown}
    conditions = [
        Lead.id == lead.id,
        Lead.stage == lead.stage,
        Lead.owner_id.is_(None) if from_owner_id is None else Lead.owner_id == from_owner_id,
    ]
    if respect_cooldown and to_owner_id is not None:
        conditions.append(
            or_(
                Lead.reclaim_blocked_user_id.is_(None),
                Lead.reclaim_blocked_user_id != to_owner_id,
                Lead.reclaim_blocked_until <= now,
            )
        )
    if cap is not None and to_owner_id is not None:
        other = aliased(Lead)
        held = (
            select(func.count())
            .select_from(other)
            .where(other.owner_id == to_owner_id, other.stage.in_(OPEN_STAGES))
            .scalar_subquery()
        )
        conditions.append(held < cap)
    result = session.execute(
        update(Lead).where(*conditions).values(**values).execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise Conflict("someone else changed this lead first; reload it", field="lead")
    for name, value in values.items():
        set_committed_value(lead, name, value)
    if to_pool is not None:
        set_committed_value(lead, "pool", to_pool)
    set_committed_value(lead, "owner", to_owner)
    record_transition(
        session,
        actor,
        lead,
        from_stage=lead.stage,
        to_stage=lead.stage,
        reason=reason,
        now=now,
        from_owner_id=from_owner_id,
        from_pool_id=from_pool_id,
        note=note,
    )
    record_activity(
        session,
        actor,
        "leads.owner_changed",
        "lead",
        lead.id,
        organization_id=lead.pool.organization_id,
        reason=reason,
        from_owner=from_owner_id,
        to_owner=to_owner_id,
    )
    if to_owner is not None and (actor is None or actor.id != to_owner.id):
        tell_assigned(session, lead, to_owner, settings, now)
    if from_owner_id is not None and from_owner_id != to_owner_id and (actor is None or actor.id != from_owner_id):
        previous = session.get(User, from_owner_id)
        if previous is not None:
            tell_returned(session, lead, previous, reason, settings, now)


def _lock_member(session: Session, member: SalesMember) -> None:
    # One person's claims take turns, so that the cap and the daily limit below are counted exactly.
    session.execute(select(SalesMember.id).where(SalesMember.id == member.id).with_for_update())


def claims_today(session: Session, user_id: int, settings: LeadsSettings, now: datetime) -> int:
    """Return how many leads the user claimed since local midnight."""
    local = now.astimezone(settings.zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return session.scalar(
        select(func.count())
        .select_from(LeadTransition)
        .where(
            LeadTransition.to_owner_id == user_id,
            LeadTransition.reason == Reason.CLAIM,
            LeadTransition.at >= midnight,
        )
    )


def claim_lead(session: Session, actor: User, lead: Lead, settings: LeadsSettings, now: datetime) -> None:
    """Take a lead from the actor's dealer's pool into their own (cap, daily limit and cooldown apply)."""
    member = require_salesperson(session, actor)
    if member.organization_id != lead.pool.organization_id:
        raise Forbidden("this lead is in another dealer's pool")
    if lead.stage not in OPEN_STAGES:
        raise Conflict("this lead is closed", field="lead")
    if lead.owner_id is not None:
        raise Conflict("someone else took this lead first; reload it", field="lead")
    _lock_member(session, member)
    cap = cap_of(member, settings)
    if held_count(session, actor.id) >= cap:
        raise Conflict("you already hold %(cap)s leads; work or return some first", field="cap", cap=cap)
    if (
        lead.reclaim_blocked_user_id == actor.id
        and lead.reclaim_blocked_until is not None
        and lead.reclaim_blocked_until > now
    ):
        raise Conflict("this lead left you recently; you may claim it again later", field="reclaim_cooldown")
    limit = member.daily_claim_limit or settings.daily_claim_limit
    if claims_today(session, actor.id, settings, now) >= limit:
        raise Conflict("you reached today's claim limit of %(limit)s", field="daily_claim_limit", limit=limit)
    change_owner(session, actor, lead, actor, Reason.CLAIM, settings, now, cap=cap, respect_cooldown=True)


def assign_lead(
    session: Session,
    actor: User,
    lead: Lead,
    user: User,
    settings: LeadsSettings,
    now: datetime,
    *,
    force: bool = False,
    note: str = "",
) -> None:
    """A manager gives a lead to one of their salespeople (past the cap only with `force` and a logged note)."""
    require_manager_of(session, actor, lead.pool.organization_id)
    member = find_member(session, user.id)
    if member is None or member.organization_id != lead.pool.organization_id:
        raise InvalidInput("pick a member of this dealer's sales team", field="user")
    if lead.stage not in OPEN_STAGES:
        raise Conflict("this lead is closed", field="lead")
    if lead.owner_id == user.id:
        return
    if force and not note.strip():
        raise InvalidInput("say why the cap is overridden", field="note")
    cap = None if force else cap_of(member, settings)
    if cap is not None and held_count(session, user.id) >= cap:
        raise Conflict("this salesperson already holds %(cap)s leads", field="cap", cap=cap)
    change_owner(session, actor, lead, user, Reason.ASSIGNED, settings, now, cap=cap, note=note)


def return_lead(session: Session, actor: User, lead: Lead, reason: str, settings: LeadsSettings, now: datetime) -> None:
    """Give a held lead back to its pool, with the reason (its owner, or a manager)."""
    if lead.owner_id is None:
        raise Conflict("this lead is not held by anyone", field="lead")
    if lead.owner_id != actor.id:
        require_manager_of(session, actor, lead.pool.organization_id)
    if not reason.strip():
        raise InvalidInput("say why the lead goes back", field="reason")
    change_owner(session, actor, lead, None, Reason.RETURNED, settings, now, note=reason.strip())


def release_all(session: Session, actor: User, user: User, settings: LeadsSettings, now: datetime) -> int:
    """Return every lead a leaving person holds to its pool and take them off the team; return how many."""
    member = find_member(session, user.id)
    if member is None:
        raise InvalidInput("this person is not on a sales team", field="user")
    require_manager_of(session, actor, member.organization_id)
    held = list(session.scalars(select(Lead).where(Lead.owner_id == user.id, Lead.stage.in_(OPEN_STAGES))))
    for lead in held:
        change_owner(session, actor, lead, None, Reason.RELEASED, settings, now, note="left the team")
    member.is_active = False
    record_activity(
        session,
        actor,
        "leads.member_released",
        "user",
        user.id,
        organization_id=member.organization_id,
        leads=len(held),
    )
    session.flush()
    return len(held)


def auto_assign(
    session: Session, lead: Lead, settings: LeadsSettings, now: datetime, rng: random.Random | None = None
) -> User | None:
    """Give a lead to the salesperson of its pool who matches its region and channel and holds the fewest
    (ties drawn at random, so the first-created member is not always first); None when nobody has room."""
    candidates = []
    for member in list_members(session, lead.pool.organization_id, TeamRole.SALESPERSON):
        if member.provinces and lead.province not in member.provinces:
            continue
        if member.channels and lead.channel not in member.channels:
            continue
        held = held_count(session, member.user_id)
        if held < cap_of(member, settings) and member.user.is_active:
            candidates.append((held, member))
    if not candidates:
        return None
    fewest = min(held for held, _member in candidates)
    chosen = (rng or random.Random()).choice([member for held, member in candidates if held == fewest])
    change_owner(session, None, lead, chosen.user, Reason.AUTO_ASSIGNED, settings, now, cap=cap_of(chosen, settings))
    return chosen.user


def may_work(session: Session, actor: User, lead: Lead) -> bool:
    """Tell whether the actor may follow the lead up or move its stage: its owner, a manager of its pool, the OEM."""
    if lead.owner_id == actor.id or is_oem(actor):
        return True
    member = find_member(session, actor.id)
    return (
        member is not None and member.role == TeamRole.MANAGER and member.organization_id == lead.pool.organization_id
    )


def list_pool(session: Session, member: SalesMember, limit: int = 100) -> list[Lead]:
    """Return the unowned open leads of the member's dealer's pools, best grade and oldest first."""
    pools = select(LeadPool.id).where(LeadPool.organization_id == member.organization_id)
    return list(
        session.scalars(
            select(Lead)
            .where(Lead.pool_id.in_(pools), Lead.owner_id.is_(None), Lead.stage.in_((Stage.QUALIFIED, Stage.SALES)))
            .order_by(Lead.grade, Lead.created_at)
            .limit(limit)
        )
    )


def funnel_scope(session: Session, actor: User) -> int | None:
    """Return whose leads the actor's funnel covers: None (all) for the OEM, their dealer for its managers."""
    if is_oem(actor):
        return None
    member = find_member(session, actor.id)
    if member is None or member.role != TeamRole.MANAGER:
        raise Forbidden("the funnel is for lead managers and the OEM")
    return member.organization_id
