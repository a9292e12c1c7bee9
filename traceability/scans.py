"""Scan operation: judge a scanned code, store the scan coarsened, and alert the OEM when it looks wrong."""

from __future__ import annotations

import hashlib
import ipaddress
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from app.crm.customers import find_customer_for_user
from app.crm.touchpoints import Channel, record_touchpoint
from app.db import is_postgresql, utcnow
from app.geo import LatLon, coarsen
from app.security import User
from app.signing import KeyRing
from traceability.alerts import raise_alert
from traceability.codes import DigitalLink, origin_of, tag_message
from traceability.counterfeit_budget import SpentBudgets, within_counterfeit_budget
from traceability.models import Batch, Installation, Part, Sale, Verdict
from traceability.places import locate
from traceability.scan_render import outcome_to_dict
from traceability.scan_storage import PartRead, ScannedPart, read_forged, read_scanned, store_scan
from traceability.settings import ClonePolicy, TraceabilitySettings
from traceability.verdicts import (
    BUY_INTENT,
    UNCORROBORATED_CAUSE,
    ScanOutcome,
    clone_signals,
    corroborated,
    decide,
    scan_state,
    split_uncorroborated,
)

FLOOD_CAUSE = "counterfeit_flood"
NOTHING_READ = PartRead(None, None, None, None)


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


def _forgery_reasons(ring: KeyRing, link: DigitalLink, origin: str) -> list[str]:
    """Return what the code itself says is wrong (its origin, its tag), before any read."""
    reasons = []
    if link.origin is not None and link.origin != origin:
        reasons.append("foreign_origin")
    if not link.tag:
        reasons.append("missing_tag")
    elif not ring.verify(tag_message(link.gtin, link.serial), link.tag):
        reasons.append("bad_tag")
    return reasons


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
    page: bool = False,
    spent: SpentBudgets | None = None,
) -> ScanOutcome:
    """Judge a scanned code (None: unreadable), store the scan coarsened, and alert the OEM when it looks wrong.

    Counterfeit scans from one `client` address raise alerts of their own up to the policy's hourly budget;
    beyond it they count in one flood alert for that address (their scans are stored all the same, and with
    `async_commit` commit without waiting for the WAL flush). `spent` is the process's memory of budgets
    found spent (counterfeit_budget).

    A clean scan of a known part is the locked read and the writes: the kept-state UPDATE and the scan INSERT
    (on PostgreSQL one statement, which with `async_commit` also lets a scan that raises no alert commit
    without waiting for the WAL flush).

    For the scan `page` on PostgreSQL the same two statements also read what the page shows besides the
    verdict (the kept sale-price range and the part's custody journey): the outcome's `page`."""
    coarse = LatLon(coarsen(position.lat), coarsen(position.lon)) if position is not None else None
    place = locate(coarse.lat, coarse.lon) if coarse is not None else None
    city = place.city if place else None
    forged = _forgery_reasons(ring, link, origin) if link is not None else []
    if link is None:
        read = NOTHING_READ
    elif forged:
        # A forged code names no part whatever the database holds: only whether its part exists, and who holds
        # it (the alert goes to them), are read; the part is neither locked nor shown.
        read = read_forged(session, link.gtin, link.serial)
    else:
        read = read_scanned(session, link.gtin, link.serial, page and is_postgresql(session))
    part, page_keys = read.part, read.page
    # The time is taken once the part's row is locked, so concurrent scans of one part are timed in the order
    # they take turns with its kept state (the last located scan is then also the latest).
    now = utcnow()
    held: list[str] = []
    if link is None:
        verdict, reasons = Verdict.COUNTERFEIT, ["malformed_code"]
    else:
        identity = forged + ([read.missing] if read.missing else [])
        signals = [] if identity or part is None else clone_signals(part, coarse, city, intent, now, policy)
        by_staff = actor is not None and actor.organization_id is not None
        trusted = part is None or corroborated(part, by_staff, policy)
        signals, held = split_uncorroborated(signals, trusted, part.alert_signals if part is not None else 0)
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
    state = scan_state(part, coarse, city, now, policy) if known else None
    # Past its client's budget a counterfeit scan only counts in the flood alert, whose one row every such scan
    # from that client updates: committed without waiting for the WAL flush, the next one waits on that row
    # for microseconds, not for a disk flush (the budgeted alerts before it stay durable).
    flooding = (
        verdict == Verdict.COUNTERFEIT
        and client is not None
        and not within_counterfeit_budget(session, client, policy.counterfeit_alerts_per_client_hour, spent)
    )
    durable = (alerting and not flooding) or bool(held) or not async_commit
    shown = store_scan(
        session, part if known else None, state, scan, durable=durable, page=page_keys if known else None
    )
    province = place.province if place else None
    outcome = ScanOutcome(verdict, reasons, part if known else None, now, city, province, shown)
    if alerting:
        _alert(session, outcome, part, read.holder_id, link, actor, client, flooding=flooding)
    if held and known:
        # The raw signal still reaches the OEM, under a cause that does not keep the part suspect.
        raise_alert(
            session,
            UNCORROBORATED_CAUSE,
            part=part,
            organization_id=part.holder_id,
            details={"signals": held, "city": city, "province": place.province if place else None},
        )
    return outcome


def coarsen_address(client: str) -> str:
    """Return the network a client address belongs to (/24 for IPv4, /48 for IPv6): enough for the OEM to
    tell one source from many without keeping the address."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return "unknown"
    return str(ipaddress.ip_network(f"{address}/{24 if address.version == 4 else 48}", strict=False))


def _alert(
    session: Session,
    outcome: ScanOutcome,
    part: ScannedPart | None,
    holder_id: int | None,
    link: DigitalLink | None,
    actor: User | None,
    client: str | None,
    *,
    flooding: bool,
) -> None:
    concerned = holder_id
    if concerned is None and actor is not None:
        concerned = actor.organization_id
    details = {
        "verdict": outcome.verdict,
        "reasons": outcome.reasons,
        "city": outcome.city,
        "province": outcome.province,
    }
    counterfeit = outcome.verdict == Verdict.COUNTERFEIT
    if flooding:
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


def scan_part(
    session: Session,
    ring: KeyRing,
    link: DigitalLink | None,
    *,
    position: LatLon | None,
    intent: str | None,
    actor: User | None,
    settings: TraceabilitySettings,
    client: str | None,
    today: date,
    page: bool = False,
    spent: SpentBudgets | None = None,
) -> tuple[dict, ScanOutcome]:
    """Verify a scanned code; return the verdict JSON and the outcome (what the scan read of the part, and for
    the `page` what it shows besides the verdict where the scan could read it)."""
    outcome = verify_scan(
        session,
        ring,
        link,
        origin=origin_of(settings.public_base_url),
        position=position,
        intent=intent,
        actor=actor,
        policy=settings.clone,
        async_commit=settings.scan_async_commit,
        client=client,
        page=page,
        spent=spent,
    )
    body = outcome_to_dict(outcome, today, settings.timezone)
    if intent == BUY_INTENT and actor is not None and actor.organization_id is None:
        _record_buy_intent(session, actor, body, outcome.city, outcome.province)
    return body, outcome


def _record_buy_intent(session: Session, actor: User, body: dict, city: str | None, province: str | None) -> None:
    """A signed-in driver being sold a part is a parts lead for the dealers (written as a CRM touchpoint)."""
    part = body.get("part") or {}
    summary = f"scanned a {body.get('verdict')} {part.get('name_en') or 'part'} offered for sale at {city or '?'}"
    record_touchpoint(
        session, channel=Channel.SCAN, kind="parts", source_type="scan", source_id=part.get("serial") or "unknown",
        customer=find_customer_for_user(session, actor), phone=actor.phone, province=province, city=city,
        summary=summary,
    )  # fmt: skip


def scan_and_render(session: Session, ring: KeyRing, link: DigitalLink | None, **options: Any) -> dict:
    """Verify a scanned code and render the verdict JSON (shared by the API and the public code URL)."""
    return scan_part(session, ring, link, **options)[0]
