"""Notifications to agents about requests, held until the queue's calendar opens (no 3 a.m. warnings)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from service.calendars import BusinessCalendar, next_opening
from service.models import HeldNotification, ServiceRequest


def notify_agent(
    session: Session,
    request: ServiceRequest,
    user_id: int,
    kind: str,
    text: str,
    calendar: BusinessCalendar,
    now: datetime,
) -> HeldNotification:
    """Notify a user about a request now if the calendar is open, else when it next opens."""
    release_at = next_opening(calendar, now)
    notice = HeldNotification(
        request_id=request.id,
        user_id=user_id,
        kind=kind,
        text=text[:500],
        created_at=now,
        release_at=release_at,
        sent_at=now if release_at <= now else None,
    )
    session.add(notice)
    session.flush()
    return notice


def release_held_notifications(session: Session, now: datetime) -> int:
    """Send the notifications whose queue has opened; return how many were sent."""
    result = session.execute(
        update(HeldNotification)
        .where(HeldNotification.sent_at.is_(None), HeldNotification.release_at <= now)
        .values(sent_at=now)
    )
    return result.rowcount or 0


def list_notifications(session: Session, user_id: int, limit: int = 20) -> list[HeldNotification]:
    """Return a user's sent notifications, newest first."""
    return list(
        session.scalars(
            select(HeldNotification)
            .where(HeldNotification.user_id == user_id, HeldNotification.sent_at.is_not(None))
            .order_by(HeldNotification.sent_at.desc(), HeldNotification.id.desc())
            .limit(limit)
        )
    )
