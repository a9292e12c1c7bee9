"""What the leads domain tells people, through the core's notification inbox (app.crm.notifications)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.crm.notifications import INBOX, SMS, WECHAT, notify
from app.security import User
from leads.models import Lead, TeamRole
from leads.settings import LeadsSettings
from leads.team import list_members


def N_(text: str) -> str:  # noqa: N802 - the gettext marker's usual name; the inbox translates when it shows
    """Mark a message for translation; it is stored in English and shown in the reader's language."""
    return text


ASSIGNED = N_("Lead %(lead)s (%(channel)s, grade %(grade)s) is yours: follow it up within %(hours)s hours.")
RETURNED = N_("Lead %(lead)s went back to its pool: %(reason)s.")
REACTIVATED = N_("Lead %(lead)s came back: %(summary)s.")


def _link(lead: Lead) -> str:
    return f"/leads/{lead.id}"


def tell_assigned(session: Session, lead: Lead, owner: User, settings: LeadsSettings, now: datetime) -> None:
    """Tell a salesperson a lead was given to them (inbox and text: the 24-hour clock is running)."""
    notify(
        session,
        owner,
        "leads.assigned",
        ASSIGNED,
        params={
            "lead": lead.id,
            "channel": lead.channel,
            "grade": lead.grade,
            "hours": int(settings.first_follow_up.total_seconds() // 3600),
        },
        now=now,
        zone=settings.zone,
        link=_link(lead),
        subject=("lead", lead.id),
        about=lead.phone,
        channels=(INBOX, SMS, WECHAT),
    )


def tell_returned(
    session: Session, lead: Lead, owner: User, reason: str, settings: LeadsSettings, now: datetime
) -> None:
    """Tell the previous owner that a lead left their private pool, and why."""
    notify(
        session,
        owner,
        "leads.returned",
        RETURNED,
        params={"lead": lead.id, "reason": reason},
        now=now,
        zone=settings.zone,
        link=_link(lead),
        subject=("lead", lead.id),
        about=lead.phone,
    )


def tell_reactivated(
    session: Session, lead: Lead, previous_owner: User | None, summary: str, settings: LeadsSettings, now: datetime
) -> list[int]:
    """Tell the previous owner (or, without one, the pool's managers) that a sleeping lead woke up; return who."""
    if previous_owner is not None and previous_owner.is_active:
        recipients = [previous_owner]
    else:
        recipients = [member.user for member in list_members(session, lead.pool.organization_id, TeamRole.MANAGER)]
    for user in recipients:
        notify(
            session,
            user,
            "leads.reactivated",
            REACTIVATED,
            params={"lead": lead.id, "summary": summary},
            now=now,
            zone=settings.zone,
            link=_link(lead),
            subject=("lead", lead.id),
            about=lead.phone,
        )
    return [user.id for user in recipients]
