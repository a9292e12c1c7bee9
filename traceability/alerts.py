"""Alerts for the OEM: raised once per part (or code) and cause, counted on repeats, worked through states."""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import ColumnElement, Select, bindparam, case, false, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.crm.activity import record_activity
from app.crm.models import Organization
from app.db import is_postgresql, utcnow
from app.errors import InvalidInput, NotFound
from app.security import User
from traceability.driver_sql import DriverStatement
from traceability.models import Alert, AlertStatus, Part, Scan

# The persistent-signal table lives with the verdict rules (one table); its names stay importable from here.
from traceability.verdicts import SIGNAL_BITS, SIGNAL_CAUSES, signal_causes  # noqa: F401


class PartRef(Protocol):
    """What an alert needs of a part: an ORM `Part` or a row with these columns."""

    id: int
    gtin: str
    serial: str


def _keep_signal(session: Session, part_id: int, cause: str, open_: bool) -> None:
    """Set or clear the part's bit for an alert cause (one relative UPDATE: concurrent writers cannot lose it)."""
    bit = SIGNAL_BITS.get(cause)
    if bit is None:
        return
    parts = Part.__table__
    value = parts.c.alert_signals.op("|")(bit) if open_ else parts.c.alert_signals.op("&")(~bit)
    session.execute(parts.update().where(parts.c.id == part_id).values(alert_signals=value))


def dedupe_key(
    cause: str,
    part: PartRef | None,
    gtin: str | None,
    serial: str | None,
    subject: str | None = None,
    organization_id: int | None = None,
) -> str:
    """Return the key under which the same cause for the same part, unknown code or `subject`, concerning the
    same organization, is one alert (a second shop doing the same thing is an incident of its own)."""
    if subject is None:
        subject = f"part:{part.id}" if part is not None else f"code:{gtin or '-'}|{serial or '-'}"
    concerning = f":org:{organization_id}" if organization_id is not None else ""
    return f"{cause}:{subject}{concerning}"[:120]


def raise_alert(
    session: Session,
    cause: str,
    *,
    part: PartRef | None = None,
    gtin: str | None = None,
    serial: str | None = None,
    organization_id: int | None = None,
    details: dict | None = None,
    subject: str | None = None,
) -> int:
    """Open an alert, or count one more occurrence of the existing one; return its id.

    A recurrence of an alert the OEM closed reopens it, and the alert counts and dates its reopenings."""
    now = utcnow()
    values = {
        "dedupe_key": dedupe_key(cause, part, gtin, serial, subject, organization_id),
        "cause": cause,
        "part_id": part.id if part is not None else None,
        "gtin": part.gtin if part is not None else gtin,
        "serial": part.serial if part is not None else (serial or None) and serial[:20],
        "organization_id": organization_id,
        "details": details or {},
        "now": now,
    }
    session.flush()  # the statement runs on the driver, past the session's autoflush
    dialect = "postgresql" if is_postgresql(session) else "sqlite"
    alert_id, _status = ALERT_UPSERT[dialect].first(session, values)
    if part is not None:
        _keep_signal(session, part.id, cause, open_=True)
    return alert_id


def _alert_upsert(dialect) -> DriverStatement:
    """The alert INSERT ... ON CONFLICT DO UPDATE with every value bound by name, run straight on the driver:
    every counterfeit scan runs it, and SQLAlchemy's ORM insert took longer than the database."""
    table = Alert.__table__
    now = bindparam("now", type_=table.c.last_seen_at.type)
    statement = dialect.insert(table).values(
        {
            **{name: bindparam(name, type_=table.c[name].type) for name in VARYING},
            "status": AlertStatus.OPEN.value,
            "occurrences": 1,
            "first_seen_at": now,
            "last_seen_at": now,
            "note": "",
            "reopened": 0,
        }
    )
    # One statement whichever worker gets there first: concurrent scans of a clone must not make two alerts.
    was_closed = table.c.status == AlertStatus.CLOSED.value
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.dedupe_key],
        set_={
            "occurrences": table.c.occurrences + 1,
            "last_seen_at": statement.excluded.last_seen_at,
            "details": statement.excluded.details,
            "status": case((was_closed, AlertStatus.OPEN.value), else_=table.c.status),
            "reopened": table.c.reopened + case((was_closed, 1), else_=0),
            "reopened_at": case((was_closed, statement.excluded.last_seen_at), else_=table.c.reopened_at),
        },
    ).returning(table.c.id, table.c.status)
    return DriverStatement(statement)


VARYING = ("dedupe_key", "cause", "part_id", "gtin", "serial", "organization_id", "details")
ALERT_UPSERT = {"postgresql": _alert_upsert(postgresql), "sqlite": _alert_upsert(sqlite)}


UNKNOWN_PROVINCE = "unknown"


def alert_province() -> ColumnElement[str]:
    """Return the SQL for an alert's province: where the scan or report behind it was, else the concerned
    organization's province, else "unknown" (the query must outer-join Alert.organization)."""
    return func.coalesce(Alert.details["province"].as_string(), Organization.province, UNKNOWN_PROVINCE)


def select_alerts(status: str | None = None, cause: str | None = None, province: str | None = None) -> Select:
    """Return the query for alerts, newest activity first, optionally by status, cause or province."""
    statement = select(Alert).outerjoin(Alert.organization).order_by(Alert.last_seen_at.desc(), Alert.id.desc())
    if status:
        if status not in AlertStatus.__members__.values():
            raise InvalidInput("status is one of %(choices)s", field="status", choices=", ".join(AlertStatus))
        statement = statement.where(Alert.status == status)
    if cause:
        statement = statement.where(Alert.cause == cause)
    if province:
        statement = statement.where(alert_province() == province)
    return statement


def get_alert(session: Session, alert_id: int) -> Alert:
    """Return the alert with `alert_id`, or raise 404."""
    alert = session.get(Alert, alert_id)
    if alert is None:
        raise NotFound("no alert %(alert_id)s", field="id", alert_id=alert_id)
    return alert


def select_alert_scans(alert: Alert) -> Select:
    """Return the query for the scans behind an alert, newest first: the part's scans, or the unknown code's."""
    if alert.part_id is not None:
        behind = Scan.part_id == alert.part_id
    elif alert.gtin or alert.serial:
        # part_id IS NULL: the code is no part's, and the condition lets the database use ix_scans_unknown_code.
        behind = Scan.part_id.is_(None) & (Scan.gtin == alert.gtin) & (Scan.serial == alert.serial)
    else:
        behind = false()  # a flood alert names a client, not a code: no scan is its own
    return select(Scan).where(behind).order_by(Scan.scanned_at.desc(), Scan.id.desc())


def update_alert_status(session: Session, actor: User, alert_id: int, status: str, note: str = "") -> Alert:
    """Move an alert to open, investigating or closed, with a note, and log who did it."""
    if status not in AlertStatus.__members__.values():
        raise InvalidInput("status is one of %(choices)s", field="status", choices=", ".join(AlertStatus))
    alert = get_alert(session, alert_id)
    if alert.part_id is not None and alert.cause in SIGNAL_BITS:
        # Lock the part before the alert, in the order scans and custody events take them (part, then alert):
        # the other order could deadlock with a scan of the part raising the same alert.
        session.execute(select(Part.id).where(Part.id == alert.part_id).with_for_update())
    previous = alert.status
    alert.status = status
    alert.note = note[:500]
    session.flush()
    if alert.part_id is not None:
        _keep_signal(session, alert.part_id, alert.cause, open_=_signal_still_open(session, alert))
    record_activity(
        session,
        actor,
        "traceability.alert_status_changed",
        "alert",
        alert.id,
        **{"from": previous, "to": status, "note": alert.note},
    )
    return alert


def _signal_still_open(session: Session, alert: Alert) -> bool:
    """Tell whether the part stays suspect for this cause: this alert, or another organization's, is not closed."""
    others = select(Alert.id).where(
        Alert.part_id == alert.part_id, Alert.cause == alert.cause, Alert.status != AlertStatus.CLOSED
    )
    return session.scalar(others.limit(1)) is not None


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
        "reopened": alert.reopened,
        "reopened_at": alert.reopened_at.isoformat() if alert.reopened_at else None,
        "reports": [
            {
                "at": report.created_at.isoformat(),
                "problem": report.problem,
                "message": report.message,
                "city": report.city,
                "province": report.province,
            }
            for report in alert.reports
        ],
    }
