"""Scan verification: the verdict for a scanned code, its reasons and clone signals, the stored scan, alerts."""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app.db import utcnow
from app.geo import LatLon, coarsen, great_circle_km
from app.security import User, count_recent_attempts, record_attempt
from app.signing import KeyRing
from traceability.alerts import raise_alert, signal_causes
from traceability.codes import DigitalLink, tag_message
from traceability.models import Batch, Installation, Part, PartState, Sale, Verdict
from traceability.places import locate
from traceability.scan_storage import SCAN_STATE, ScannedPart, read_part, store_scan

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
COUNTERFEIT_BUCKET = "counterfeit_alerts"
COUNTERFEIT_WINDOW = timedelta(hours=1)
FLOOD_CAUSE = "counterfeit_flood"


@dataclass(frozen=True)
class ClonePolicy:
    """Thresholds of the clone signals, and the hourly counterfeit-alert budget per client (from settings)."""

    max_speed_kmh: float
    max_cities: int
    far_km: float
    history: int
    counterfeit_alerts_per_client_hour: int = 30


@dataclass
class ScanOutcome:
    """A verdict with its reasons, the scan's view of the part (a ScannedPart) unless the code is
    counterfeit, and what was stored: when, and the city and province of the coarsened position."""

    verdict: str
    reasons: list[str]
    part: ScannedPart | None
    scanned_at: datetime
    city: str | None
    province: str | None


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


def _standing(part: ScannedPart, prefix: str) -> dict:
    rating = getattr(part, f"{prefix}_rating")
    return {
        "name": getattr(part, f"{prefix}_name"),
        "city": getattr(part, f"{prefix}_city"),
        "rating": float(rating) if rating is not None else None,
        "rating_count": getattr(part, f"{prefix}_rating_count"),
        "certification_tier": getattr(part, f"{prefix}_certification_tier"),
    }


def _identity_reasons(
    session: Session, ring: KeyRing, link: DigitalLink, part: ScannedPart | None, origin: str
) -> list[str]:
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


def recent_cities(kept: list | None, window_start: int) -> dict[str, int]:
    """Return the kept cities last seen in a scan numbered above `window_start`, with that number."""
    return {city: number for city, number in kept or () if number > window_start}


def clone_signals(
    part: ScannedPart,
    position: LatLon | None,
    city: str | None,
    intent: str | None,
    now: datetime,
    policy: ClonePolicy,
) -> list[str]:
    """Return the reasons to think this code was copied or the part is being passed off (empty: none).

    Reads only the part's kept state: the history is its last `policy.history` stored scans, numbered
    1..scan_count, so "in the history" is "numbered above scan_count - history"."""
    signals: list[str] = []
    window_start = part.scan_count - policy.history
    if position is not None and part.last_scan_number is not None and part.last_scan_number > window_start:
        km = great_circle_km(position.lat, position.lon, part.last_scan_lat, part.last_scan_lon)
        hours = max((now - part.last_scan_at).total_seconds() / 3600, MIN_TRAVEL_HOURS)
        if km > MIN_TRAVEL_KM and km / hours > policy.max_speed_kmh:
            signals.append("impossible_travel")
    if part.state in PRE_INSTALL_STATES:
        cities = recent_cities(part.scan_cities, window_start).keys() | ({city} if city else set())
        if len(cities) > policy.max_cities:
            signals.append("many_cities")
        if position is not None:
            # The factory, and every located organization the part's custody events named.
            places = [(part.factory_lat, part.factory_lon)] if part.factory_lat is not None else []
            places += [tuple(place) for place in part.chain_places or ()]
            if places and min(great_circle_km(position.lat, position.lon, *p) for p in places) > policy.far_km:
                signals.append("far_from_chain")
    if intent == BUY_INTENT and part.state in (PartState.INSTALLED, PartState.REMOVED):
        signals.append("offered_after_install" if part.state == PartState.INSTALLED else "offered_after_removal")
    for cause in signal_causes(part.alert_signals):
        signal = PERSISTENT_SIGNALS[cause]
        if signal not in signals:
            signals.append(signal)
    return signals


def _scan_state(
    part: ScannedPart, position: LatLon | None, city: str | None, now: datetime, policy: ClonePolicy
) -> dict:
    """Return the part's kept state with this scan in it: its number, the last located scan, the recent cities."""
    number = part.scan_count + 1
    state = {name: getattr(part, name) for name in SCAN_STATE}
    state["scan_count"] = number
    if position is not None:
        state.update(last_scan_number=number, last_scan_lat=position.lat, last_scan_lon=position.lon, last_scan_at=now)
    if city:
        cities = recent_cities(part.scan_cities, number - policy.history)
        cities[city] = number
        newest = sorted(cities.items(), key=lambda item: item[1], reverse=True)[: policy.max_cities + 1]
        state["scan_cities"] = [list(item) for item in newest]
    return state


def decide(part, identity_reasons: list[str], signals: list[str]) -> tuple[str, list[str]]:
    """Return the verdict and its reasons (DESIGN.md section 6), worst first; `part` has state and recall_id."""
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
    async_commit: bool = False,
    client: str | None = None,
) -> ScanOutcome:
    """Judge a scanned code (None: unreadable), store the scan coarsened, and alert the OEM when it looks wrong.

    Counterfeit scans from one `client` address raise alerts of their own up to the policy's hourly budget;
    beyond it they count in one flood alert for that address (their scans are stored all the same).

    A clean scan of a known part is the locked read and the writes: the kept-state UPDATE and the scan INSERT
    (on PostgreSQL one statement, which with `async_commit` also lets a scan that raises no alert commit
    without waiting for the WAL flush)."""
    coarse = LatLon(coarsen(position.lat), coarsen(position.lon)) if position is not None else None
    place = locate(coarse.lat, coarse.lon) if coarse is not None else None
    city = place.city if place else None
    part = read_part(session, link.gtin, link.serial) if link is not None else None
    # The time is taken once the part's row is locked, so concurrent scans of one part are timed in the order
    # they take turns with its kept state (the last located scan is then also the latest).
    now = utcnow()
    if link is None:
        verdict, reasons = Verdict.COUNTERFEIT, ["malformed_code"]
    else:
        identity = _identity_reasons(session, ring, link, part, origin)
        signals = [] if identity or part is None else clone_signals(part, coarse, city, intent, now, policy)
        verdict, reasons = decide(part, identity, signals)
    known = part is not None and verdict != Verdict.COUNTERFEIT
    alerting = verdict in (Verdict.SUSPECT, Verdict.VOID, Verdict.COUNTERFEIT)
    scan = {
        "part_id": part.id if known else None,
        "gtin": link.gtin if link else None,
        "serial": link.serial if link else None,
        "verdict": verdict.value,
        "reasons": reasons,
        "intent": intent if intent == BUY_INTENT else None,
        "lat": coarse.lat if coarse else None,
        "lon": coarse.lon if coarse else None,
        "province": place.province if place else None,
        "city": city,
        "user_id": actor.id if actor else None,
        "organization_id": actor.organization_id if actor else None,
        "scanned_at": now,
    }
    state = _scan_state(part, coarse, city, now, policy) if known else None
    store_scan(session, part.id if known else None, state, scan, durable=alerting or not async_commit)
    outcome = ScanOutcome(verdict, reasons, part if known else None, now, city, place.province if place else None)
    if alerting:
        _alert(session, outcome, part, link, actor, client, policy)
    return outcome


def coarsen_address(client: str) -> str:
    """Return the network a client address belongs to (/24 for IPv4, /48 for IPv6): enough for the OEM to
    tell one source from many without keeping the address."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return "unknown"
    return str(ipaddress.ip_network(f"{address}/{24 if address.version == 4 else 48}", strict=False))


def _within_counterfeit_budget(session: Session, client: str, limit: int) -> bool:
    """Count a counterfeit scan against its client's hourly alert budget; tell whether it may raise alerts."""
    key = f"client:{client}"
    if count_recent_attempts(session, COUNTERFEIT_BUCKET, key, COUNTERFEIT_WINDOW) >= limit:
        return False
    record_attempt(session, COUNTERFEIT_BUCKET, key)
    return True


def _alert(
    session: Session,
    outcome: ScanOutcome,
    part: ScannedPart | None,
    link: DigitalLink | None,
    actor: User | None,
    client: str | None,
    policy: ClonePolicy,
) -> None:
    concerned = part.holder_id if part is not None else None
    if concerned is None and actor is not None:
        concerned = actor.organization_id
    details = {
        "verdict": outcome.verdict,
        "reasons": outcome.reasons,
        "city": outcome.city,
        "province": outcome.province,
    }
    counterfeit = outcome.verdict == Verdict.COUNTERFEIT
    if (
        counterfeit
        and client is not None
        and not _within_counterfeit_budget(session, client, policy.counterfeit_alerts_per_client_hour)
    ):
        raise_alert(
            session,
            FLOOD_CAUSE,
            subject="client:" + hashlib.sha256(client.encode()).hexdigest()[:20],
            organization_id=concerned,
            details={**details, "client_network": coarsen_address(client), "last_code": _code_text(link)},
        )
        return
    subject = part if not counterfeit else None
    for reason in outcome.reasons:
        raise_alert(
            session,
            reason,
            part=subject,
            gtin=link.gtin if link else None,
            serial=link.serial if link else None,
            organization_id=concerned,
            details=details,
        )


def _code_text(link: DigitalLink | None) -> str | None:
    return f"{link.gtin}|{link.serial}" if link is not None else None


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


def warranty_status(warranty_months: int, started: datetime | None, today: date) -> dict | None:
    """Return the warranty period, counted from installation or else from sale (`started`); None before either."""
    if started is None:
        return None
    start = started.date()
    until = add_months(start, warranty_months)
    return {"from": start.isoformat(), "until": until.isoformat(), "active": today <= until}


def mask_vin(vin: str) -> str:
    """Show a VIN as its maker code and last four characters."""
    return vin[:3] + "*" * (len(vin) - 7) + vin[-4:]


def outcome_to_dict(outcome: ScanOutcome, today: date) -> dict:
    """Render the verdict JSON (the same for the public URL and POST /api/v1/scans) from the scan's one read."""
    body: dict = {
        "verdict": outcome.verdict,
        "reasons": outcome.reasons,
        "scanned_at": outcome.scanned_at.isoformat(),
    }
    part = outcome.part
    if part is None:
        body["part"] = None
        return body
    installed = part.state == PartState.INSTALLED and part.installed_at is not None
    body["part"] = {
        "gtin": part.gtin,
        "serial": part.serial,
        "part_number": part.part_number,
        "name_zh": part.name_zh,
        "name_en": part.name_en,
        "category": part.category,
        "guide_price": f"{part.guide_price:.2f}",
        "state": part.state,
    }
    body["factory_record"] = {
        "factory": part.factory_name,
        "city": part.factory_city,
        "lot": part.lot,
        "production_date": part.production_date.isoformat(),
        "production_line": part.production_line,
        "qc_result": part.qc_result,
    }
    body["recall"] = (
        {"code": part.recall_code, "notice_zh": part.recall_notice_zh, "notice_en": part.recall_notice_en}
        if part.recall_code is not None
        else None
    )
    started = part.installed_at if installed else part.sold_at
    body["warranty"] = warranty_status(part.warranty_months, started, today)
    body["installed"] = (
        {
            "vin": mask_vin(part.vin),
            "installed_at": part.installed_at.isoformat(),
            "shop": part.shop_name,
            "city": part.shop_city,
            "installer": _standing(part, "shop"),
        }
        if installed
        else None
    )
    body["seller"] = _standing(part, "seller") if part.sold_at is not None else None
    return body


def clone_policy(config: dict) -> ClonePolicy:
    """Read the clone thresholds and the counterfeit-alert budget from the settings."""
    return ClonePolicy(
        max_speed_kmh=float(config["CLONE_MAX_SPEED_KMH"]),
        max_cities=int(config["CLONE_MAX_CITIES"]),
        far_km=float(config["CLONE_FAR_KM"]),
        history=int(config["CLONE_SCAN_HISTORY"]),
        counterfeit_alerts_per_client_hour=int(config["COUNTERFEIT_ALERTS_PER_CLIENT_HOUR"]),
    )
