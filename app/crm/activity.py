"""The activity log: every write a person may later ask about, with its actor; the OEM reads and filters it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Select, event, select
from sqlalchemy.orm import Session

from app.crm.models import ActivityEntry
from app.errors import Conflict
from app.security import User


def record_activity(
    session: Session,
    actor: User | None,
    action: str,
    subject_type: str,
    subject_id: object,
    *,
    organization_id: int | None = None,
    **details: Any,
) -> ActivityEntry:
    """Log that `actor` (None: the system, a job) did `action` to the record `subject_type` `subject_id`.

    `action` is dotted, domain first ("traceability.alert_status_changed"); details are JSON values that name
    records by id or code, never a person's phone or name.
    """
    entry = ActivityEntry(
        **activity_values(actor, action, subject_type, subject_id, organization_id=organization_id, **details)
    )
    session.add(entry)
    session.flush()
    return entry


def activity_values(
    actor: User | None,
    action: str,
    subject_type: str,
    subject_id: object,
    *,
    organization_id: int | None = None,
    **details: Any,
) -> dict[str, Any]:
    """Return the columns of the entry `record_activity` writes, for a bulk job that inserts many at once."""
    return {
        "actor_id": actor.id if actor is not None else None,
        "actor_role": actor.role if actor is not None else "system",
        "organization_id": organization_id if organization_id is not None else getattr(actor, "organization_id", None),
        "action": action,
        "subject_type": subject_type,
        "subject_id": str(subject_id),
        "details": details,
    }


def select_activity(
    *,
    action: str | None = None,
    actor_id: int | None = None,
    organization_id: int | None = None,
    subject_type: str | None = None,
    subject_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Select:
    """Return the newest-first query of log entries matching every filter given."""
    statement = select(ActivityEntry).order_by(ActivityEntry.id.desc())
    if action:
        # "traceability." matches every action of that domain; a full name matches itself.
        statement = statement.where(
            ActivityEntry.action.startswith(action) if action.endswith(".") else ActivityEntry.action == action
        )
    if actor_id is not None:
        statement = statement.where(ActivityEntry.actor_id == actor_id)
    if organization_id is not None:
        statement = statement.where(ActivityEntry.organization_id == organization_id)
    if subject_type:
        statement = statement.where(ActivityEntry.subject_type == subject_type)
    if subject_id:
        statement = statement.where(ActivityEntry.subject_id == subject_id)
    if since is not None:
        statement = statement.where(ActivityEntry.occurred_at >= since)
    if until is not None:
        statement = statement.where(ActivityEntry.occurred_at < until)
    return statement


def activity_to_dict(entry: ActivityEntry) -> dict:
    """Return a log entry as the API shows it to the OEM."""
    return {
        "id": entry.id,
        "occurred_at": entry.occurred_at.isoformat(),
        "actor_id": entry.actor_id,
        "actor_role": entry.actor_role,
        "organization_id": entry.organization_id,
        "action": entry.action,
        "subject": {"type": entry.subject_type, "id": entry.subject_id},
        "details": entry.details,
    }


@event.listens_for(ActivityEntry, "before_update")
@event.listens_for(ActivityEntry, "before_delete")
def _refuse_change(_mapper: object, _connection: object, entry: ActivityEntry) -> None:
    raise Conflict("the activity log is append-only", field="activity")
