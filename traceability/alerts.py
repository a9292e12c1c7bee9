"""Alerts for the OEM: raised once per part (or code) and cause, counted on repeats, worked through states."""

from __future__ import annotations

from sqlalchemy import Select, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.db import is_postgresql, utcnow
from app.errors import InvalidInput, NotFound
from traceability.models import Alert, AlertStatus, Part


def dedupe_key(cause: str, part: Part | None, gtin: str | None, serial: str | None) -> str:
    """Return the key under which the same cause for the same part (or unknown code) is one alert."""
    subject = f"part:{part.id}" if part is not None else f"code:{gtin or '-'}|{serial or '-'}"
    return f"{cause}:{subject}"[:120]


def raise_alert(
    session: Session,
    cause: str,
    *,
    part: Part | None = None,
    gtin: str | None = None,
    serial: str | None = None,
    organization_id: int | None = None,
    details: dict | None = None,
) -> int:
    """Open an alert, or count one more occurrence of the existing one; return its id."""
    now = utcnow()
    key = dedupe_key(cause, part, gtin, serial)
    values = {
        "dedupe_key": key,
        "cause": cause,
        "status": AlertStatus.OPEN.value,
        "part_id": part.id if part is not None else None,
        "gtin": part.gtin if part is not None else gtin,
        "serial": part.serial if part is not None else (serial or None) and serial[:20],
        "organization_id": organization_id,
        "details": details or {},
        "occurrences": 1,
        "first_seen_at": now,
        "last_seen_at": now,
        "note": "",
    }
    # One statement whichever worker gets there first: concurrent scans of a clone must not make two alerts.
    dialect = postgresql if is_postgresql(session) else sqlite
    statement = dialect.insert(Alert).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=[Alert.dedupe_key],
        set_={
            "occurrences": Alert.occurrences + 1,
            "last_seen_at": now,
            "details": statement.excluded.details,
        },
    ).returning(Alert.id)
    return session.execute(statement).scalar_one()


def list_part_alert_causes(session: Session, part: Part) -> set[str]:
    """Return the causes of the alerts raised for a part that the OEM has not closed."""
    statement = select(Alert.cause).where(Alert.part_id == part.id, Alert.status != AlertStatus.CLOSED)
    return set(session.scalars(statement))


def select_alerts(status: str | None = None, cause: str | None = None) -> Select:
    """Return the query for alerts, newest activity first, optionally by status or cause."""
    statement = select(Alert).order_by(Alert.last_seen_at.desc(), Alert.id.desc())
    if status:
        if status not in AlertStatus.__members__.values():
            raise InvalidInput(f"status is one of {', '.join(AlertStatus)}", field="status")
        statement = statement.where(Alert.status == status)
    if cause:
        statement = statement.where(Alert.cause == cause)
    return statement


def update_alert_status(session: Session, alert_id: int, status: str, note: str = "") -> Alert:
    """Move an alert to open, investigating or closed, with a note."""
    if status not in AlertStatus.__members__.values():
        raise InvalidInput(f"status is one of {', '.join(AlertStatus)}", field="status")
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound(f"no alert {alert_id}", field="id")
    alert.status = status
    alert.note = note[:500]
    session.flush()
    return alert


def alert_to_dict(alert: Alert) -> dict:
    """Render an alert for the OEM."""
    return {
        "id": alert.id,
        "cause": alert.cause,
        "status": alert.status,
        "gtin": alert.gtin,
        "serial": alert.serial,
        "organization": alert.organization.code if alert.organization else None,
        "details": alert.details,
        "occurrences": alert.occurrences,
        "first_seen_at": alert.first_seen_at.isoformat(),
        "last_seen_at": alert.last_seen_at.isoformat(),
        "note": alert.note,
    }
