"""The pools' rules, run by the worker: no follow-up within 24 h of assignment, or none for 15 days, returns a
lead to its pool (unless an open booking protects it), through the one ownership function."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from leads import settings as chunking
from leads.intake import take_in_touchpoints
from leads.models import OPEN_STAGES, Lead, Reason
from leads.ownership import change_owner, is_protected
from leads.settings import LeadsSettings
from leads.stages import dispatch_due


def recycle_due(
    session: Session,
    settings: LeadsSettings,
    now: datetime,
    checkpoint: Callable[[], None] = chunking.no_checkpoint,
    limit: int = 1000,
) -> dict[str, int]:
    """Return to their pools the held leads whose first follow-up or idle time ran out; count by reason.

    Up to `limit` leads, by id, calling `checkpoint` after every CHUNK; each chunk is read afresh after the last
    one's commit, so a lead a salesperson followed up in between is no longer due and stays with them."""
    counts = {Reason.FIRST_FOLLOW_UP_TIMEOUT.value: 0, Reason.IDLE.value: 0, "protected": 0}
    after_id, seen = 0, 0
    while seen < limit:
        chunk = session.scalars(
            select(Lead)
            .where(
                Lead.id > after_id,
                Lead.owner_id.is_not(None),
                Lead.stage.in_(OPEN_STAGES),
                or_(Lead.first_follow_up_due_at <= now, Lead.recycle_at <= now),
            )
            .order_by(Lead.id)
            .limit(min(chunking.CHUNK, limit - seen))
            .execution_options(populate_existing=True)
        ).all()
        for lead in chunk:
            after_id = lead.id
            if is_protected(session, lead):
                counts["protected"] += 1
                continue
            timed_out = lead.first_follow_up_due_at is not None and lead.first_follow_up_due_at <= now
            reason = Reason.FIRST_FOLLOW_UP_TIMEOUT if timed_out else Reason.IDLE
            change_owner(session, None, lead, None, reason, settings, now)
            counts[reason.value] += 1
        seen += len(chunk)
        if chunk:
            checkpoint()
        if len(chunk) < chunking.CHUNK:
            break
    return counts


# The worker's minute job that runs advance_leads (leads.tasks); the demo pauses it while it plays its history.
ADVANCE_JOB = "leads.advance"


def advance_leads(
    session: Session,
    settings: LeadsSettings,
    now: datetime,
    rng: random.Random | None = None,
    checkpoint: Callable[[], None] = chunking.no_checkpoint,
) -> dict[str, int]:
    """Run one tick: take in touchpoints, dispatch what working hours allow, return leads whose time ran out.

    `checkpoint` is called after every chunk of each step (the worker's job commits there). Every chunk leaves
    consistent data on its own, and a tick stopped in between is carried on by the next one."""
    counts = {"taken_in": take_in_touchpoints(session, settings, now, checkpoint=checkpoint)}
    counts["dispatched"] = dispatch_due(session, settings, now, rng, checkpoint=checkpoint)
    counts.update(recycle_due(session, settings, now, checkpoint=checkpoint))
    return counts
