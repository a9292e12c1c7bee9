"""Scan verification: the verdict for a scanned code, its reasons and clone signals, the stored scan, alerts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import select, union
from sqlalchemy.orm import Session, joinedload

from app.crm.models import Organization
from app.db import utcnow
from app.geo import LatLon, coarsen, great_circle_km
from app.security import User
from app.signing import KeyRing
from traceability.alerts import list_part_alert_causes, raise_alert
from traceability.codes import DigitalLink, tag_message
from traceability.models import (
    Batch,
    CustodyEvent,
    CustodyEventPart,
    Installation,
    Part,
    PartState,
    Recall,
    Sale,
    Scan,
    Verdict,
)
from traceability.places import locate

# Coarsened positions are about 1 km apart and phones drift: below this no travel speed is computed.
MIN_TRAVEL_KM = 5.0
MIN_TRAVEL_HOURS = 1 / 360
PRE_INSTALL_STATES = frozenset({PartState.PRODUCED, PartState.IN_TRANSIT, PartState.IN_STOCK, PartState.SOLD})
# Alerts that keep a part suspect on every later scan until the OEM closes them.
PERSISTENT_SIGNALS = {
    "impossible_travel": "impossible_travel",
    "many_cities": "many_cities",
    "far_from_chain": "far_from_chain",
    "activation_after_install": "activation_after_install",
    "activation_replayed": "activation_after_install",
    "resale_after_install": "offered_after_install",
    "resale_after_removal": "offered_after_removal",
}
BUY_INTENT = "buy"


@dataclass(frozen=True)
class ClonePolicy:
    """Thresholds of the clone signals (from settings)."""

    max_speed_kmh: float
    max_cities: int
    far_km: float
    history: int


@dataclass
class ScanOutcome:
    """A verdict with its reasons, the part when the code names one, and the stored scan."""

    verdict: str
    reasons: list[str]
    part: Part | None
    scan: Scan
    installation: Installation | None = None
    sold_at: datetime | None = None
    extra: dict = field(default_factory=dict)


def find_part(session: Session, gtin: str, serial: str) -> Part | None:
    """Return the part with this GTIN and serial, with its type, batch, factory and recall loaded."""
    statement = (
        select(Part)
        .options(
            joinedload(Part.part_type),
            joinedload(Part.batch).joinedload(Batch.factory),
            joinedload(Part.recall),
        )
        .where(Part.gtin == gtin, Part.serial == serial)
    )
    return session.scalar(statement)


def _identity_reasons(session: Session, ring: KeyRing, link: DigitalLink, part: Part | None, origin: str) -> list[str]:
    reasons = []
    if link.origin is not None and link.origin != origin:
        reasons.append("foreign_origin")
    if not link.tag:
        reasons.append("missing_tag")
    elif not ring.verify(tag_message(link.gtin, link.serial), link.tag):
        reasons.append("bad_tag")
    if part is None:
        elsewhere = session.scalar(select(Part.id).where(Part.serial == link.serial).limit(1))
        reasons.append("gtin_mismatch" if elsewhere else "unknown_serial")
    return reasons


def _recent_scans(session: Session, part: Part, limit: int) -> list[Scan]:
    statement = select(Scan).where(Scan.part_id == part.id).order_by(Scan.scanned_at.desc(), Scan.id.desc())
    return list(session.scalars(statement.limit(limit)))


def _chain_positions(session: Session, part: Part) -> list[tuple[float, float]]:
    """Return where the part's custody chain has been: its factory, holders and destinations."""
    events = select(CustodyEventPart.event_id).where(CustodyEventPart.part_id == part.id)
    organization_ids = union(
        select(CustodyEvent.organization_id).where(CustodyEvent.id.in_(events)),
        select(CustodyEvent.destination_id).where(CustodyEvent.id.in_(events)),
        select(Batch.factory_id).where(Batch.id == part.batch_id),
    )
    rows = session.execute(
        select(Organization.lat, Organization.lon).where(
            Organization.id.in_(select(organization_ids.subquery().c[0])), Organization.lat.is_not(None)
        )
    )
    return [(lat, lon) for lat, lon in rows]


def clone_signals(
    session: Session,
    part: Part,
    position: LatLon | None,
    city: str | None,
    intent: str | None,
    now: datetime,
    policy: ClonePolicy,
) -> list[str]:
    """Return the reasons to think this code was copied or the part is being passed off (empty: none)."""
    signals: list[str] = []
    history = _recent_scans(session, part, policy.history)
    previous = next((scan for scan in history if scan.lat is not None), None)
    if position is not None and previous is not None:
        km = great_circle_km(position.lat, position.lon, previous.lat, previous.lon)
        hours = max((now - previous.scanned_at).total_seconds() / 3600, MIN_TRAVEL_HOURS)
        if km > MIN_TRAVEL_KM and km / hours > policy.max_speed_kmh:
            signals.append("impossible_travel")
    if part.state in PRE_INSTALL_STATES:
        cities = {scan.city for scan in history if scan.city} | ({city} if city else set())
        if len(cities) > policy.max_cities:
            signals.append("many_cities")
        if position is not None:
            places = _chain_positions(session, part)
            if places and min(great_circle_km(position.lat, position.lon, *p) for p in places) > policy.far_km:
                signals.append("far_from_chain")
    if intent == BUY_INTENT and part.state in (PartState.INSTALLED, PartState.REMOVED):
        signals.append("offered_after_install" if part.state == PartState.INSTALLED else "offered_after_removal")
    for cause in list_part_alert_causes(session, part):
        signal = PERSISTENT_SIGNALS.get(cause)
        if signal is not None and signal not in signals:
            signals.append(signal)
    return signals


def decide(part: Part | None, identity_reasons: list[str], signals: list[str]) -> tuple[str, list[str]]:
    """Return the verdict and its reasons (DESIGN.md section 6), worst first."""
    if identity_reasons or part is None:
        return Verdict.COUNTERFEIT, identity_reasons
    if part.state == PartState.DESTROYED:
        return Verdict.VOID, ["destroyed"]
    if part.recall_id is not None:
        return Verdict.RECALLED, ["recalled", *signals]
    if signals:
        return Verdict.SUSPECT, signals
    if part.state == PartState.INSTALLED:
        return Verdict.INSTALLED, ["installed"]
    return Verdict.GENUINE, []


def verify_scan(
    session: Session,
    ring: KeyRing,
    link: DigitalLink | None,
    *,
    origin: str,
    position: LatLon | None,
    intent: str | None,
    actor: User | None,
    policy: ClonePolicy,
) -> ScanOutcome:
    """Judge a scanned code (None: unreadable), store the scan coarsened, and alert the OEM when it looks wrong."""
    now = utcnow()
    coarse = LatLon(coarsen(position.lat), coarsen(position.lon)) if position is not None else None
    place = locate(coarse.lat, coarse.lon) if coarse is not None else None
    part = find_part(session, link.gtin, link.serial) if link is not None else None
    if link is None:
        verdict, reasons = Verdict.COUNTERFEIT, ["malformed_code"]
    else:
        identity = _identity_reasons(session, ring, link, part, origin)
        signals = (
            []
            if identity or part is None
            else clone_signals(session, part, coarse, place.city if place else None, intent, now, policy)
        )
        verdict, reasons = decide(part, identity, signals)
    scan = Scan(
        part_id=part.id if part is not None and verdict != Verdict.COUNTERFEIT else None,
        gtin=link.gtin if link else None,
        serial=link.serial if link else None,
        verdict=verdict,
        reasons=reasons,
        intent=intent if intent == BUY_INTENT else None,
        lat=coarse.lat if coarse else None,
        lon=coarse.lon if coarse else None,
        province=place.province if place else None,
        city=place.city if place else None,
        user_id=actor.id if actor else None,
        organization_id=actor.organization_id if actor else None,
        scanned_at=now,
    )
    session.add(scan)
    session.flush()
    if verdict in (Verdict.SUSPECT, Verdict.VOID, Verdict.COUNTERFEIT):
        _alert(session, verdict, reasons, part, link, scan, actor)
    return ScanOutcome(verdict, reasons, part, scan)


def _alert(
    session: Session,
    verdict: str,
    reasons: list[str],
    part: Part | None,
    link: DigitalLink | None,
    scan: Scan,
    actor: User | None,
) -> None:
    concerned = part.holder_id if part is not None else None
    if concerned is None and actor is not None:
        concerned = actor.organization_id
    details = {"verdict": verdict, "reasons": reasons, "city": scan.city, "province": scan.province}
    subject = part if verdict != Verdict.COUNTERFEIT else None
    for reason in reasons:
        raise_alert(
            session,
            reason,
            part=subject,
            gtin=link.gtin if link else None,
            serial=link.serial if link else None,
            organization_id=concerned,
            details=details,
        )


def find_installation(session: Session, part: Part) -> Installation | None:
    """Return the part's current installation, with the vehicle and installer loaded."""
    statement = (
        select(Installation)
        .options(joinedload(Installation.vehicle), joinedload(Installation.organization))
        .where(Installation.part_id == part.id, Installation.removed_at.is_(None))
    )
    return session.scalar(statement)


def find_last_sale(session: Session, part: Part) -> Sale | None:
    """Return the part's most recent sale, with the seller loaded."""
    statement = (
        select(Sale).options(joinedload(Sale.seller)).where(Sale.part_id == part.id).order_by(Sale.sold_at.desc())
    )
    return session.scalars(statement.limit(1)).first()


def add_months(start: date, months: int) -> date:
    """Return the same day `months` later (the month's last day when it is shorter)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    for day in (start.day, 30, 29, 28):
        try:
            return date(year, month, day)
        except ValueError:
            continue
    raise AssertionError("unreachable")


def warranty_status(part: Part, installation: Installation | None, sale: Sale | None, today: date) -> dict | None:
    """Return the warranty period, counted from installation or else from sale; None before either."""
    started = installation.installed_at if installation else (sale.sold_at if sale else None)
    if started is None:
        return None
    start = started.date()
    until = add_months(start, part.part_type.warranty_months)
    return {"from": start.isoformat(), "until": until.isoformat(), "active": today <= until}


def mask_vin(vin: str) -> str:
    """Show a VIN as its maker code and last four characters."""
    return vin[:3] + "*" * (len(vin) - 7) + vin[-4:]


def recall_to_dict(recall: Recall | None) -> dict | None:
    """Render a recall notice for scanners."""
    if recall is None:
        return None
    return {"code": recall.code, "notice_zh": recall.notice_zh, "notice_en": recall.notice_en}


def outcome_to_dict(session: Session, outcome: ScanOutcome, today: date) -> dict:
    """Render the verdict JSON (the same for the public URL and POST /api/v1/scans)."""
    body: dict = {
        "verdict": outcome.verdict,
        "reasons": outcome.reasons,
        "scanned_at": outcome.scan.scanned_at.isoformat(),
    }
    part = outcome.part
    if part is None or outcome.verdict == Verdict.COUNTERFEIT:
        body["part"] = None
        return body
    installation = find_installation(session, part) if part.state == PartState.INSTALLED else None
    sale = find_last_sale(session, part)
    outcome.installation, outcome.sold_at = installation, sale.sold_at if sale else None
    part_type, batch = part.part_type, part.batch
    body["part"] = {
        "gtin": part.gtin,
        "serial": part.serial,
        "part_number": part_type.part_number,
        "name_zh": part_type.name_zh,
        "name_en": part_type.name_en,
        "category": part_type.category,
        "guide_price": f"{part_type.guide_price:.2f}",
        "state": part.state,
    }
    body["factory_record"] = {
        "factory": batch.factory.name,
        "city": batch.factory.city,
        "lot": batch.lot,
        "production_date": batch.production_date.isoformat(),
        "production_line": batch.production_line,
        "qc_result": batch.qc_result,
    }
    body["recall"] = recall_to_dict(part.recall)
    body["warranty"] = warranty_status(part, installation, sale, today)
    body["installed"] = (
        {
            "vin": mask_vin(installation.vehicle.vin),
            "installed_at": installation.installed_at.isoformat(),
            "shop": installation.organization.name,
            "city": installation.organization.city,
        }
        if installation
        else None
    )
    body["seller"] = {"name": sale.seller.name, "city": sale.seller.city} if sale else None
    return body


def clone_policy(config: dict) -> ClonePolicy:
    """Read the clone thresholds from the settings."""
    return ClonePolicy(
        max_speed_kmh=float(config["CLONE_MAX_SPEED_KMH"]),
        max_cities=int(config["CLONE_MAX_CITIES"]),
        far_km=float(config["CLONE_FAR_KM"]),
        history=int(config["CLONE_SCAN_HISTORY"]),
    )
