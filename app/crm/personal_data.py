"""A person's rights over their data (PIPL articles 45 and 47): a copy of everything held, and erasure.

CRM cannot name the domains above it, so each registers what it holds about a person: an exporter that returns
its part of the copy, and an eraser that deletes or anonymizes it and keeps what the law or the network's
integrity needs without the person (custody events keep the truck, reviews keep their stars, a shop keeps its
booking history). Both receive a `Person`: the identifiers as they were before anything was erased.

Erasure runs in the caller's transaction and takes the customer row's lock first; every write path that would
add a fresh trace of the person (a booking) takes the same lock in share mode through `ensure_not_erased`, so a
booking racing an erasure either lands before it (and is erased with the rest) or is refused after it.
"""

from __future__ import annotations

import calendar
import io
import json
import re
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from app.crm.activity import activity_to_dict, record_activity
from app.crm.models import (
    ActivityEntry,
    Customer,
    Notification,
    NotificationPreference,
    Touchpoint,
    Vehicle,
    VehicleOwnership,
    VehicleTransfer,
    WechatGrant,
)
from app.db import Base
from app.errors import Conflict, InvalidInput, NotFound
from app.one_time_codes import CodePurpose, PhoneCode, PhoneCodeSettings, prove_phone
from app.security import ApiToken, Attempt, User, is_oem

FORMAT = "milepost-personal-data/1"
# What replaces a phone number or name found inside kept free text (a review, a shop's reply).
REDACTED = "***"
# The placeholder a unique phone column takes once its person is erased (never a real number: no digits first).
ERASED_PHONE = "erased-{id}"
# Touchpoints are consent proofs: the briefs keep them at least five months.
MIN_TOUCHPOINT_MONTHS = 5


@dataclass(frozen=True)
class Person:
    """Who a request is about, as recorded before erasure: the erasers match and scrub by these."""

    customer_id: int
    user_id: int | None
    phone: str
    name: str
    vehicle_ids: tuple[int, ...]
    now: datetime
    settings: Mapping[str, Any] = field(default_factory=dict)

    def scrub(self, text: str | None) -> str:
        """Return `text` with this person's phone number and name replaced by asterisks."""
        if not text:
            return text or ""
        scrubbed = text.replace(self.phone, REDACTED)
        # The number as people write it: 138 0013 8000, 138-0013-8000.
        spaced = r"[\s-]?".join(re.escape(part) for part in (self.phone[:3], self.phone[3:7], self.phone[7:]))
        scrubbed = re.sub(spaced, REDACTED, scrubbed)
        if len(self.name.strip()) >= 2:
            scrubbed = scrubbed.replace(self.name.strip(), REDACTED)
        return scrubbed


Exporter = Callable[[Session, Person], Any]
Eraser = Callable[[Session, Person], dict[str, int]]
_EXPORTERS: dict[str, Exporter] = {}
# Erasers run in ascending order; the core's own runs last, so the others still see the person's identifiers.
_ERASERS: dict[str, tuple[int, Eraser]] = {}


def register_exporter(name: str, export: Exporter) -> None:
    """Add (or replace, by name) a domain's part of the copy: `export(session, person)` returns JSON values."""
    _EXPORTERS[name] = export


def register_eraser(name: str, erase: Eraser, order: int = 50) -> None:
    """Add (or replace, by name) a domain's erasure: `erase(session, person)` returns counts of rows changed."""
    _ERASERS[name] = (order, erase)


def registered_parts() -> list[str]:
    """Return the names of the parts a copy is made of."""
    return sorted(_EXPORTERS)


def record_to_dict(row: Base, *, without: tuple[str, ...] = ()) -> dict:
    """Return a row's columns as JSON values (times as ISO 8601, money as text), leaving out `without`."""
    values = {}
    for column in row.__table__.columns:
        if column.key in without:
            continue
        value = getattr(row, column.key)
        if isinstance(value, datetime | date):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        elif isinstance(value, bytes):
            continue
        values[column.key] = value
    return values


def coarsen(degrees: float | None) -> float | None:
    """Round a coordinate to two decimals (about 1 km), as the public record of a scan keeps it."""
    return round(degrees, 2) if degrees is not None else None


def person_of(session: Session, customer: Customer, settings: Mapping[str, Any], now: datetime) -> Person:
    """Return the identifiers of the person behind `customer` as they are now."""
    vehicle_ids = session.scalars(
        select(VehicleOwnership.vehicle_id).where(VehicleOwnership.customer_id == customer.id).distinct()
    )
    owned = session.scalars(select(Vehicle.id).where(Vehicle.owner_id == customer.id))
    return Person(
        customer_id=customer.id,
        user_id=customer.user_id,
        phone=customer.phone,
        name=customer.name,
        vehicle_ids=tuple(sorted(set(vehicle_ids) | set(owned))),
        now=now,
        settings=settings,
    )


def get_subject_for(session: Session, actor: User, customer_id: int) -> Customer:
    """Return the customer whose data `actor` may export or erase: themselves, or anyone for the OEM; else 404."""
    customer = session.get(Customer, customer_id)
    if customer is None or not (is_oem(actor) or customer.user_id == actor.id):
        raise NotFound("no such customer")
    return customer


def _reason_of(actor: User, customer: Customer, reason: str) -> str:
    """The OEM says why (the service-center request it answers); a person asking for themselves needs none."""
    reason = " ".join((reason or "").split())[:200]
    if customer.user_id != actor.id and not reason:
        raise InvalidInput("say which request this answers", field="reason")
    return reason


def export_personal_data(
    session: Session, actor: User, customer: Customer, settings: Mapping[str, Any], now: datetime, reason: str = ""
) -> dict:
    """Return everything held about `customer`'s person, part by part, and log who asked for it."""
    reason = _reason_of(actor, customer, reason)
    person = person_of(session, customer, settings, now)
    parts = {name: _EXPORTERS[name](session, person) for name in registered_parts()}
    record_activity(
        session, actor, "crm.personal_data_exported", "customer", customer.id,
        reason=person.scrub(reason), parts=sorted(parts),
    )  # fmt: skip
    return {"format": FORMAT, "exported_at": now.isoformat(), "customer_id": customer.id, "parts": parts}


def count_records(export: dict) -> dict[str, int]:
    """Return how many records each list of a copy holds, named "part.list" ("network.bookings")."""
    return {f"{name}.{key}": len(records) for name, part in export["parts"].items() for key, records in part.items()}


def N_(text: str) -> str:  # noqa: N802 - the gettext marker's usual name
    """Mark a message for translation; the caller of `export_file` passes the translation function."""
    return text


SUMMARY_TITLE = N_("Everything Milepost holds about you, exported at %(time)s")
SUMMARY_LINE = N_("%(part)s: %(count)s records")
SUMMARY_FOOTER = N_("The file personal-data.json holds the records themselves, part by part.")


def export_file(export: dict, file_format: str, translate: Callable[[str], str] = str) -> tuple[bytes, str, str]:
    """Return a copy as (content, file name, media type): the JSON, or a zip of it with a readable summary."""
    text = json.dumps(export, ensure_ascii=False, indent=2)
    name = f"milepost-personal-data-{export['customer_id']}"
    if file_format == "json":
        return text.encode(), f"{name}.json", "application/json"
    if file_format != "zip":
        raise InvalidInput("the copy comes as json or zip", field="format")
    lines = [translate(SUMMARY_TITLE) % {"time": export["exported_at"]}, ""]
    for part, count in sorted(count_records(export).items()):
        lines.append(translate(SUMMARY_LINE) % {"part": part, "count": count})
    lines += ["", translate(SUMMARY_FOOTER), ""]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("personal-data.json", text)
        archive.writestr("README.txt", "\n".join(lines))
    return buffer.getvalue(), f"{name}.zip", "application/zip"


def ensure_not_erased(session: Session, customer_id: int) -> None:
    """Refuse a write for a person who has been erased; hold the customer row (share mode) until commit.

    An erasure holds the same row exclusively, so the two take turns (PostgreSQL; SQLite runs one writer).
    """
    erased_at = session.scalar(select(Customer.erased_at).where(Customer.id == customer_id).with_for_update(read=True))
    if erased_at is not None:
        raise Conflict("this account has been closed", field="account")


def erase_person(
    session: Session,
    actor: User,
    customer: Customer,
    settings: Mapping[str, Any],
    now: datetime,
    *,
    reason: str = "",
    method: str = "oem",
) -> dict[str, dict[str, int]]:
    """Erase or anonymize everything held about `customer`'s person; a second erasure changes nothing."""
    reason = _reason_of(actor, customer, reason)
    # The exclusive row lock: a concurrent booking of this person waits (ensure_not_erased) and is then refused.
    session.execute(select(Customer.id).where(Customer.id == customer.id).with_for_update())
    session.refresh(customer)
    if customer.erased_at is not None:
        record_activity(session, actor, "crm.personal_data_erased", "customer", customer.id, method=method,
                        repeated=True)  # fmt: skip
        return {}
    person = person_of(session, customer, settings, now)
    counts = {}
    for name, (_order, erase) in sorted(_ERASERS.items(), key=lambda item: (item[1][0], item[0])):
        counts[name] = erase(session, person)
    session.flush()
    record_activity(
        session, actor, "crm.personal_data_erased", "customer", customer.id,
        method=method, reason=person.scrub(reason), counts=counts,
    )  # fmt: skip
    return counts


def close_account(
    session: Session, actor: User, code: str, rules: PhoneCodeSettings, settings: Mapping[str, Any], now: datetime
) -> dict[str, dict[str, int]]:
    """Close the signed-in driver's account once the code texted to their phone proves it is them."""
    customer = session.scalar(select(Customer).where(Customer.user_id == actor.id))
    if customer is None or actor.phone is None:
        raise NotFound("no customer record is linked to this account")
    prove_phone(session, actor.phone, CodePurpose.CLOSE_ACCOUNT, code, rules)
    return erase_person(session, actor, customer, settings, now, method="self")


def _export_core(session: Session, person: Person) -> dict:
    customer = session.get(Customer, person.customer_id)
    user = session.get(User, person.user_id) if person.user_id is not None else None
    vehicles = session.scalars(select(Vehicle).where(Vehicle.id.in_(person.vehicle_ids)).order_by(Vehicle.id))
    ownerships = session.scalars(
        select(VehicleOwnership).where(VehicleOwnership.customer_id == person.customer_id).order_by(VehicleOwnership.id)
    )
    touchpoints = session.scalars(
        select(Touchpoint)
        .where(or_(Touchpoint.customer_id == person.customer_id, Touchpoint.phone == person.phone))
        .order_by(Touchpoint.id)
    )
    user_filters = [ActivityEntry.subject_type == "customer", ActivityEntry.subject_id == str(person.customer_id)]
    about = [ActivityEntry.actor_id == person.user_id] if person.user_id is not None else []
    activity = session.scalars(
        select(ActivityEntry).where(or_(*about, user_filters[0] & user_filters[1])).order_by(ActivityEntry.id)
    )
    notifications, preferences = [], []
    if user is not None:
        notifications = session.scalars(
            select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
        )
        preferences = session.scalars(select(NotificationPreference).where(NotificationPreference.user_id == user.id))
    return {
        "profile": [record_to_dict(customer)] if customer is not None else [],
        "account": [record_to_dict(user, without=("password_hash",))] if user is not None else [],
        "vehicles": [record_to_dict(vehicle) for vehicle in vehicles],
        "ownerships": [record_to_dict(row) for row in ownerships],
        "touchpoints": [record_to_dict(row) for row in touchpoints],
        "consents": [record_to_dict(row) for row in preferences],
        # Whom a message was about is that other person's number, not this person's data.
        "notifications": [record_to_dict(row, without=("about_phone",)) for row in notifications],
        "activity": [activity_to_dict(entry) for entry in activity],
    }


def _erase_core(session: Session, person: Person) -> dict[str, int]:
    counts: dict[str, int] = {}
    customer_filter = or_(Touchpoint.customer_id == person.customer_id, Touchpoint.phone == person.phone)
    # Touchpoints stay as consent proofs and counts (channel, province, basis, text version) without the person.
    counts["touchpoints"] = _rows(session.execute(
        update(Touchpoint).where(customer_filter).values(phone=None, summary="", city=None)
        .execution_options(synchronize_session=False)
    ))  # fmt: skip
    for row in session.scalars(select(VehicleOwnership).where(VehicleOwnership.customer_id == person.customer_id)):
        row.note = person.scrub(row.note)
    for row in session.scalars(
        select(VehicleTransfer).where(
            or_(
                VehicleTransfer.from_customer_id == person.customer_id,
                VehicleTransfer.to_customer_id == person.customer_id,
            )
        )
    ):
        row.note = person.scrub(row.note)
    # The trucks stay (custody events and installations name them); the plate is the owner's registration.
    counts["vehicles"] = _rows(session.execute(
        update(Vehicle).where(Vehicle.owner_id == person.customer_id).values(plate=None)
        .execution_options(synchronize_session=False)
    ))  # fmt: skip
    if person.user_id is not None:
        counts["notifications"] = _rows(
            session.execute(delete(Notification).where(Notification.user_id == person.user_id))
        )
        session.execute(delete(WechatGrant).where(WechatGrant.user_id == person.user_id))
        # Every sign-in and API token ends: nobody signs in to an erased account again.
        session.execute(delete(ApiToken).where(ApiToken.user_id == person.user_id))
        session.execute(
            update(User)
            .where(User.id == person.user_id)
            .values(phone=None, email=None, display_name="", password_hash="!", is_active=False)
            .execution_options(synchronize_session=False)
        )
    # Staff were told about the person by name or number (a lead assigned): those texts lose them too. Each such
    # message keeps the number it is about in an indexed column, so this is no search through every message.
    for notification in session.scalars(select(Notification).where(Notification.about_phone == person.phone)):
        notification.params = {key: person.scrub(str(value)) for key, value in notification.params.items()}
        notification.about_phone = None
    session.execute(delete(PhoneCode).where(PhoneCode.phone == person.phone))
    session.execute(delete(Attempt).where(Attempt.phone == person.phone))
    session.execute(
        update(Customer)
        .where(Customer.id == person.customer_id)
        .values(name="", phone=ERASED_PHONE.format(id=person.customer_id), erased_at=person.now)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()
    return counts


def _rows(result: Any) -> int:
    return int(result.rowcount or 0)


def months_before(moment: datetime, months: int) -> datetime:
    """Return the same time `months` calendar months earlier (the 31st becomes the month's last day)."""
    index = moment.year * 12 + moment.month - 1 - months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def apply_touchpoint_retention(session: Session, now: datetime, months: int, action: str) -> dict[str, int]:
    """Drop or anonymize the touchpoints older than `months` (never under the consent proofs' five months)."""
    if months < MIN_TOUCHPOINT_MONTHS:
        raise InvalidInput("consent proofs are kept at least five months", field="months")
    cutoff = months_before(now, months)
    old = Touchpoint.occurred_at < cutoff
    if action == "drop":
        return {"dropped": _rows(session.execute(delete(Touchpoint).where(old)))}
    if action != "anonymize":
        raise InvalidInput("retention either drops or anonymizes", field="action")
    result = session.execute(
        update(Touchpoint)
        .where(old, or_(Touchpoint.phone.is_not(None), Touchpoint.customer_id.is_not(None)))
        .values(phone=None, customer_id=None, vehicle_id=None, vin=None, summary="", city=None)
        .execution_options(synchronize_session=False)
    )
    return {"anonymized": _rows(result)}


register_exporter("crm", _export_core)
register_eraser("crm", _erase_core, order=100)
