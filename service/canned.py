"""Canned answers: a shortcut, a body per locale, {placeholders} filled from the request; a placeholder without
a value (or one we do not know) blocks sending, so a driver never reads "{vehicle.plate}"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.security import User
from network.models import Booking, Shop
from service.models import CannedAnswer, LinkKind, ServiceRequest

PLACEHOLDER = re.compile(r"\{([a-z_]+(?:\.[a-z_]+)?)\}")
KNOWN = (
    "customer.name",
    "vehicle.plate",
    "vehicle.vin_tail",
    "shop.name",
    "shop.phone",
    "booking.start",
    "request.number",
    "agent.name",
)


@dataclass(frozen=True)
class Rendered:
    """A canned answer filled in, with what kept it from being sendable."""

    text: str
    missing: tuple[str, ...]
    unknown: tuple[str, ...]

    @property
    def sendable(self) -> bool:
        """Tell whether every placeholder got a value."""
        return not self.missing and not self.unknown


def create_canned_answer(
    session: Session,
    *,
    shortcut: str,
    title: str,
    bodies: dict[str, str],
    scope: str = "oem",
    organization_id: int | None = None,
    owner_id: int | None = None,
) -> CannedAnswer:
    """Add a canned answer; the shortcut is a slash and letters (/xl), a body is given per locale."""
    if not re.fullmatch(r"/[a-z0-9_-]{1,29}", shortcut or ""):
        raise InvalidInput("a shortcut is / followed by up to 29 letters or digits", field="shortcut")
    if not bodies or any(locale not in ("zh", "en") or not text.strip() for locale, text in bodies.items()):
        raise InvalidInput("give a body in zh and/or en", field="bodies")
    answer = CannedAnswer(
        scope=scope, organization_id=organization_id, owner_id=owner_id, shortcut=shortcut, title=title, bodies=bodies
    )
    session.add(answer)
    session.flush()
    return answer


def list_canned_answers(session: Session, actor: User, query: str = "") -> list[CannedAnswer]:
    """Return the answers the actor may use (the OEM's, their organization's, their own), searched by text."""
    statement = select(CannedAnswer).where(
        or_(
            CannedAnswer.scope == "oem",
            (CannedAnswer.scope == "org") & (CannedAnswer.organization_id == actor.organization_id),
            (CannedAnswer.scope == "user") & (CannedAnswer.owner_id == actor.id),
        )
    )
    answers = list(session.scalars(statement.order_by(CannedAnswer.shortcut)))
    needle = query.strip().lower()
    if needle:
        answers = [a for a in answers if needle in a.shortcut or needle in a.title.lower()]
    return answers


def placeholder_values(session: Session, request: ServiceRequest, agent: User, zone: ZoneInfo) -> dict[str, str | None]:
    """Return the value of every known placeholder for this request (None when it has none)."""
    booking = next((session.get(Booking, link.ref_id) for link in request.links if link.kind == LinkKind.BOOKING), None)
    shop = booking.shop if booking is not None else None
    if shop is None and request.queue.organization_id is not None:
        shop = session.scalar(select(Shop).where(Shop.organization_id == request.queue.organization_id))
    vehicle = request.vehicle
    return {
        "customer.name": request.customer.name if request.customer else (request.caller_name or None),
        "vehicle.plate": vehicle.plate if vehicle else None,
        "vehicle.vin_tail": vehicle.vin[-6:] if vehicle else None,
        "shop.name": shop.name if shop else None,
        "shop.phone": (shop.phone or None) if shop else None,
        "booking.start": booking.start.astimezone(zone).strftime("%Y-%m-%d %H:%M") if booking else None,
        "request.number": request.number,
        "agent.name": agent.display_name or None,
    }


def render_canned_answer(answer: CannedAnswer, locale: str, values: dict[str, str | None]) -> Rendered:
    """Fill in the answer's body for `locale` (zh when it has no body in that locale)."""
    body = answer.bodies.get(locale) or answer.bodies.get("zh") or next(iter(answer.bodies.values()))
    missing, unknown = [], []

    def fill(match: re.Match) -> str:
        name = match.group(1)
        if name not in values:
            unknown.append(name)
            return match.group(0)
        if values[name] is None:
            missing.append(name)
            return match.group(0)
        return str(values[name])

    text = PLACEHOLDER.sub(fill, body)
    return Rendered(text=text, missing=tuple(missing), unknown=tuple(unknown))


def check_sendable(text: str) -> None:
    """Refuse a reply that still holds a {placeholder} (a canned answer with a value missing)."""
    left = PLACEHOLDER.search(text)
    if left:
        raise InvalidInput("fill in %(placeholder)s before sending", field="body", placeholder=left.group(0))
