"""Plaques: issue and re-issue numbered, signed plaques; check a scanned plaque; draw the printable SVG."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple
from xml.sax.saxutils import escape

import qrcode
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.crm.activity import record_activity
from app.errors import Conflict, Forbidden, InvalidInput
from app.geo import great_circle_km
from app.security import Role, User
from app.signing import KeyRing
from network.models import Shop
from network.shops import shop_code_of
from reviews.models import CertificationChange, CertificationState, Plaque, PlaqueRequest, ReissueReason, ShopScore
from reviews.plaque_codes import plaque_url, sign_plaque, verify_plaque
from reviews.tiers import Tier, plaque_colour
from traceability.driver_sql import DriverStatement


def active_plaque(session: Session, shop: Shop) -> Plaque | None:
    """Return the shop's plaque in force, if any."""
    return session.scalar(select(Plaque).where(Plaque.shop_id == shop.id, Plaque.revoked_at.is_(None)))


def issue_plaque(session: Session, ring: KeyRing, shop: Shop, actor: User | None, now: datetime) -> Plaque:
    """Issue the shop's next plaque; the one before it (if any) stops verifying as current."""
    previous = active_plaque(session, shop)
    if previous is not None:
        previous.revoked_at = now
        previous.revoked_reason = "replaced by a re-issued plaque"
    number = (session.scalar(select(func.max(Plaque.number)).where(Plaque.shop_id == shop.id)) or 0) + 1
    plaque = Plaque(
        shop_id=shop.id,
        number=number,
        tag=sign_plaque(ring, shop.code, number),
        issued_at=now,
        issued_by_id=actor.id if actor else None,
    )
    session.add(plaque)
    session.flush()
    request = find_open_request(session, shop)
    if request is not None and not _close_request(session, request, actor, now, plaque_number=number):
        request = None
    record_activity(
        session,
        actor,
        "reviews.plaque_reissued" if previous is not None else "reviews.plaque_issued",
        "shop",
        shop.code,
        organization_id=shop.organization_id,
        number=number,
        replaced=previous.number if previous is not None else None,
        request=request.id if request is not None else None,
    )
    return plaque


def _close_request(
    session: Session, request: PlaqueRequest, actor: User | None, now: datetime, **outcome: object
) -> bool:
    """Close a pending request with its outcome; False when another decision closed it first.

    One conditional UPDATE: of an approval and a decline at the same moment, the second waits for the first's
    row lock, finds the request no longer open and changes nothing (on PostgreSQL and on SQLite alike)."""
    closed = session.execute(
        update(PlaqueRequest)
        .where(PlaqueRequest.id == request.id, PlaqueRequest.open_shop_id.is_not(None))
        .values(open_shop_id=None, resolved_at=now, resolved_by_id=actor.id if actor else None, **outcome)
        .execution_options(synchronize_session=False)
    )
    session.refresh(request)
    return closed.rowcount == 1


def _require_oem(actor: User) -> None:
    if actor.role != Role.OEM_ADMIN:
        raise Forbidden("only the OEM decides on plaque re-issue requests")


def approve_request(session: Session, ring: KeyRing, actor: User, request: PlaqueRequest, now: datetime) -> Plaque:
    """Re-issue the plaque a pending request asks for; a request already decided is a conflict."""
    _require_oem(actor)
    if request.open_shop_id is None:
        raise Conflict("this re-issue request is no longer pending", field="request")
    plaque = issue_plaque(session, ring, request.shop, actor, now)
    if request.plaque_number != plaque.number:
        # A decline closed the request while the plaque was being issued: the caller rolls the plaque back.
        raise Conflict("this re-issue request is no longer pending", field="request")
    return plaque


def decline_request(session: Session, actor: User, request: PlaqueRequest, reason: str, now: datetime) -> None:
    """Decline a pending re-issue request with the reason the shop is shown."""
    _require_oem(actor)
    reason = reason.strip()
    if not reason:
        raise InvalidInput("say why the request is declined", field="reason")
    if len(reason) > 300:
        raise InvalidInput("the reason is longer than 300 characters", field="reason")
    if not _close_request(session, request, actor, now, decline_reason=reason):
        raise Conflict("this re-issue request is no longer pending", field="request")
    record_activity(
        session,
        actor,
        "reviews.plaque_reissue_declined",
        "shop",
        request.shop.code,
        organization_id=request.shop.organization_id,
        request=request.id,
        reason=reason,
    )


def find_request(session: Session, request_id: int) -> PlaqueRequest | None:
    """Return a re-issue request by its id, if it exists."""
    return session.get(PlaqueRequest, request_id)


def last_decided_request(session: Session, shop: Shop) -> PlaqueRequest | None:
    """Return the shop's most recently decided request (approved or declined), if any."""
    statement = select(PlaqueRequest).where(PlaqueRequest.shop_id == shop.id, PlaqueRequest.resolved_at.is_not(None))
    return session.scalar(statement.order_by(PlaqueRequest.resolved_at.desc(), PlaqueRequest.id.desc()).limit(1))


def count_open_requests(session: Session) -> int:
    """Count the pending re-issue requests: the figure on the OEM's dashboard."""
    return session.scalar(select(func.count()).where(PlaqueRequest.open_shop_id.is_not(None))) or 0


def find_open_request(session: Session, shop: Shop) -> PlaqueRequest | None:
    """Return the shop's open re-issue request, if it has one."""
    return session.scalar(select(PlaqueRequest).where(PlaqueRequest.open_shop_id == shop.id))


def list_open_requests(session: Session, limit: int = 100) -> list[PlaqueRequest]:
    """List the open re-issue requests, oldest first: the OEM's work list."""
    statement = select(PlaqueRequest).where(PlaqueRequest.open_shop_id.is_not(None))
    return list(session.scalars(statement.order_by(PlaqueRequest.requested_at, PlaqueRequest.id).limit(limit)))


def request_reissue(session: Session, actor: User, shop: Shop, reason: str, note: str, now: datetime) -> PlaqueRequest:
    """Ask the OEM to re-issue the shop's plaque; an open request is returned as it is (one per shop)."""
    if reason not in set(ReissueReason):
        raise InvalidInput("choose why the plaque should be re-issued", field="reason")
    note = note.strip()
    if len(note) > 300:
        raise InvalidInput("the note is longer than 300 characters", field="note")
    existing = find_open_request(session, shop)
    if existing is not None:
        return existing
    request = PlaqueRequest(
        shop_id=shop.id, reason=reason, note=note, requested_by_id=actor.id, requested_at=now, open_shop_id=shop.id
    )
    try:
        # Two staff (or a double click) at once: the unique index makes the later insert wait for the first and
        # fail; the savepoint keeps the transaction usable and the first request is the answer to both.
        with session.begin_nested():
            session.add(request)
    except IntegrityError:
        existing = find_open_request(session, shop)
        if existing is None:
            raise
        return existing
    record_activity(
        session,
        actor,
        "reviews.plaque_reissue_requested",
        "shop",
        shop.code,
        organization_id=shop.organization_id,
        reason=reason,
        request=request.id,
    )
    return request


class PlaqueShop(NamedTuple):
    """What a plaque check shows of the shop it names."""

    code: str
    name: str
    address: str | None
    city: str | None
    province: str | None
    lat: float
    lon: float


def _plaque_check() -> DriverStatement:
    """The shop by code with its live tier, score and latest certification reason, one row per plaque, newest
    first (one row of NULLs for them when it has none): a public page scanned at counters, in one statement."""
    last_reason = (
        select(CertificationChange.reason)
        .where(CertificationChange.shop_id == Shop.id)
        .order_by(CertificationChange.created_at.desc(), CertificationChange.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    return DriverStatement(
        select(
            *(getattr(Shop, name) for name in PlaqueShop._fields),
            CertificationState.tier,
            ShopScore.overall,
            ShopScore.review_count,
            last_reason.label("last_reason"),
            Plaque.number,
            Plaque.revoked_at,
        )
        .outerjoin(CertificationState, CertificationState.shop_id == Shop.id)
        .outerjoin(ShopScore, ShopScore.shop_id == Shop.id)
        .outerjoin(Plaque, Plaque.shop_id == Shop.id)
        .where(Shop.code == bindparam("code"))
        .order_by(Plaque.number.desc())
    )


PLAQUE_CHECK = _plaque_check()


@dataclass(frozen=True)
class PlaqueCheck:
    """What a scanned plaque URL says: genuine and current, stale (replaced), or forged; the live standing."""

    status: str
    colour: str
    shop: PlaqueShop | None
    tier: str | None
    rating: float | None
    rating_count: int
    plaque_number: int | None
    distance_km: float | None
    is_far: bool
    # The reason of the shop's latest certification change, if it ever had one (the page shows it in words).
    last_reason: str | None = None

    def to_dict(self) -> dict:
        """Return the check as JSON."""
        return {
            "status": self.status,
            "colour": self.colour,
            "shop": self.shop.code if self.shop else None,
            "name": self.shop.name if self.shop else None,
            "address": self.shop.address if self.shop else None,
            "tier": self.tier,
            "rating": round(self.rating, 2) if self.rating is not None else None,
            "rating_count": self.rating_count,
            "plaque": self.plaque_number,
            "distance_km": round(self.distance_km, 1) if self.distance_km is not None else None,
            "far_from_shop": self.is_far,
        }


def check_plaque(
    session: Session,
    ring: KeyRing,
    shop_code: str,
    tag: str | None,
    position: tuple[float, float] | None,
    near_km: float,
) -> PlaqueCheck:
    """Check a scanned plaque: `valid` (current plaque), `stale` (a replaced one), `forged`, or `unknown_shop`."""
    rows = PLAQUE_CHECK.all(session, {"code": shop_code_of(shop_code)})
    if not rows:
        return PlaqueCheck("unknown_shop", "red", None, None, None, 0, None, None, False)
    first = rows[0]
    shop = PlaqueShop(*(getattr(first, name) for name in PlaqueShop._fields))
    tier, overall, review_count, reason = first.tier, first.overall, first.review_count, first.last_reason
    status, number = "forged", None
    for row in rows:  # newest plaque first; a shop without plaques has one row of NULLs for them
        if row.number is not None and verify_plaque(ring, shop.code, row.number, tag or ""):
            status = "valid" if row.revoked_at is None else "stale"
            number = row.number
            break
    tier = tier or Tier.NONE
    distance = great_circle_km(position[0], position[1], shop.lat, shop.lon) if position else None
    colour = plaque_colour(Tier(tier)) if status == "valid" else "red"
    return PlaqueCheck(
        status=status,
        colour=colour,
        shop=shop,
        tier=tier,
        rating=overall if review_count else None,
        rating_count=review_count or 0,
        plaque_number=number,
        distance_km=distance,
        is_far=distance is not None and distance > near_km,
        last_reason=reason,
    )


def qr_path(data: str) -> tuple[str, int]:
    """Return an SVG path drawing the QR code of `data` (error correction Q, quiet zone included) and its size."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_Q, border=4)
    code.add_data(data)
    code.make(fit=True)
    matrix = code.get_matrix()
    path = "".join(f"M{x},{y}h1v1h-1z" for y, row in enumerate(matrix) for x, dark in enumerate(row) if dark)
    return path, len(matrix)


def plaque_svg(shop: Shop, plaque: Plaque, public_base_url: str, tier: str) -> str:
    """Return a print-ready SVG plaque (A5 portrait) with the QR code of its URL."""
    url = plaque_url(public_base_url, shop.code, plaque.tag)
    path_d, modules = qr_path(url)
    name_size, name_lines = _fit_name(shop.name)
    # A very long name pushes the QR code down and makes it smaller rather than running over it.
    top = max(52.0, 40 + len(name_lines) * name_size * 1.15)
    size = 162 - top
    scale = size / modules
    lines = [
        _text(20, 9, "Milepost 认证服务站", weight="bold"),
        _text(30, 5, "OEM certified service shop"),
        *(_text(40 + index * name_size * 1.15, name_size, line) for index, line in enumerate(name_lines)),
        _text(172, 5, f"扫码验证 · Scan to verify · {tier}"),
        _text(182, 4.5, f"{shop.code} · No. {plaque.number}", family="monospace"),
        _text(192, 3.2, url, family="monospace"),
    ]
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<svg xmlns="http://www.w3.org/2000/svg" width="148mm" height="210mm" viewBox="0 0 148 210">\n'
        '<rect x="2" y="2" width="144" height="206" rx="6" fill="#fff" stroke="#14532d" stroke-width="2"/>\n'
        f'<g transform="translate({74 - size / 2:.2f} {top:.2f}) scale({scale:.5f})">'
        f'<path d="{path_d}" fill="#000"/></g>\n' + "\n".join(lines) + "\n</svg>\n"
    )


# The plaque's text runs 128 mm wide; a Chinese character is about one em, a Latin letter about half of one.
NAME_WIDTH_MM = 128


def _fit_name(name: str) -> tuple[float, list[str]]:
    """Return the font size and lines that show the whole shop name within the plaque's width: never cut."""
    for size, most_lines in ((7.0, 1), (5.5, 2)):
        lines = _wrap(name, NAME_WIDTH_MM / size)
        if len(lines) <= most_lines:
            return size, lines
    return 4.0, _wrap(name, NAME_WIDTH_MM / 4.0)


def _wrap(name: str, ems: float) -> list[str]:
    lines, current, width = [], "", 0.0
    for character in name:
        advance = 1.0 if ord(character) > 0x2E80 else 0.55
        if current and width + advance > ems:
            lines.append(current)
            current, width = "", 0.0
        current += character
        width += advance
    return [*lines, current] if current else lines


def _text(y: float, size: float, content: str, family: str = "sans-serif", weight: str = "normal") -> str:
    return (
        f'<text x="74" y="{y}" text-anchor="middle" font-family="{family}" font-size="{size}" '
        f'font-weight="{weight}">{escape(content)}</text>'
    )
