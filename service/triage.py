"""Triage, in order: convert a request into the flow that handles it (roadside, counterfeit alert, the booking's
shop, the recall), else route it to a queue. A complaint about a shop never reaches that shop's own queue."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.security import User
from network.assistance import request_assistance
from network.models import Booking
from network.search import ShopIndex
from network.settings import NetworkSettings
from service.models import Category, LinkKind, Queue, ServiceRequest
from service.queues import OEM_DESK, OEM_NETWORK, OEM_PARTS, ensure_oem_queues, organization_queue
from service.timeline import link_record, record_event
from traceability.alerts import raise_alert
from traceability.models import Alert, Installation, Part, RecalledPart, Scan


@dataclass(frozen=True)
class Conversions:
    """What converting needs from the network (the roadside flow); pages and the API pass it in."""

    index: ShopIndex
    network: NetworkSettings


def _linked(request: ServiceRequest, kind: str) -> list[int]:
    return [link.ref_id for link in request.links if link.kind == kind]


def choose_queue(session: Session, request: ServiceRequest) -> Queue:
    """Return the queue a request belongs in by its category and what it is linked to."""
    oem = ensure_oem_queues(session)
    if request.concerns_organization_id is not None or request.category == Category.COMPLAINT:
        # Conflict of interest: the shop complained about must not handle (or see) the complaint.
        return oem[OEM_NETWORK]
    if request.category == Category.BOOKING:
        for booking_id in _linked(request, LinkKind.BOOKING):
            booking = session.get(Booking, booking_id)
            if booking is not None:
                shop = booking.shop
                return organization_queue(session, shop.organization, shop.opening_hours or None, shop.open_24h)
    if request.category in (Category.COUNTERFEIT, Category.PARTS, Category.RECALL):
        return oem[OEM_PARTS]
    if request.category == Category.FAULT and request.vehicle is not None and request.vehicle.dealer is not None:
        return organization_queue(session, request.vehicle.dealer)
    return oem[OEM_DESK]


def convert_request(
    session: Session, actor: User | None, request: ServiceRequest, conversions: Conversions | None
) -> str | None:
    """Hand the request to the flow that handles its matter; return what it became, if anything."""
    if request.category == Category.ROADSIDE:
        return _to_roadside(session, actor, request, conversions)
    if request.category == Category.COUNTERFEIT:
        return _to_counterfeit_alert(session, request)
    if request.category == Category.RECALL:
        return _to_recalls(session, request)
    return None


def _to_roadside(
    session: Session, actor: User | None, request: ServiceRequest, conversions: Conversions | None
) -> str | None:
    if _linked(request, LinkKind.ASSISTANCE):
        return "assistance"
    if conversions is None or actor is None or request.vehicle is None or request.lat is None or request.lon is None:
        return None
    assistance = request_assistance(
        session,
        actor,
        request.vehicle,
        request.lat,
        request.lon,
        request.body or request.subject,
        [],
        conversions.index,
        conversions.network,
    )
    link_record(session, request, LinkKind.ASSISTANCE, assistance.id, actor)
    return "assistance"


def _to_counterfeit_alert(session: Session, request: ServiceRequest) -> str | None:
    for scan_id in _linked(request, LinkKind.SCAN):
        scan = session.get(Scan, scan_id)
        if scan is None:
            continue
        alert_id = None
        if scan.part_id is not None:
            alert_id = session.scalar(
                select(Alert.id).where(Alert.part_id == scan.part_id).order_by(Alert.last_seen_at.desc()).limit(1)
            )
        elif scan.gtin and scan.serial:
            alert_id = session.scalar(
                select(Alert.id)
                .where(Alert.gtin == scan.gtin, Alert.serial == scan.serial)
                .order_by(Alert.last_seen_at.desc())
                .limit(1)
            )
        if alert_id is None:
            part = session.get(Part, scan.part_id) if scan.part_id is not None else None
            alert_id = raise_alert(
                session,
                "driver_report",
                part=part,
                gtin=scan.gtin,
                serial=scan.serial,
                details={"scan_id": scan.id, "service_request": request.id},
            )
        link_record(session, request, LinkKind.ALERT, alert_id)
        return "alert"
    return None


def _to_recalls(session: Session, request: ServiceRequest) -> str | None:
    if request.vehicle is None:
        return None
    recall_ids = session.scalars(
        select(RecalledPart.recall_id)
        .join(Installation, Installation.part_id == RecalledPart.part_id)
        .where(Installation.vehicle_id == request.vehicle_id, Installation.removed_at.is_(None))
        .distinct()
    ).all()
    for recall_id in recall_ids:
        link_record(session, request, LinkKind.RECALL, recall_id)
    return "recall" if recall_ids else None


def triage_request(
    session: Session, actor: User | None, request: ServiceRequest, conversions: Conversions | None
) -> Queue:
    """Convert the request where a flow exists, then put it in its queue; return the queue."""
    converted = convert_request(session, actor, request, conversions)
    if converted:
        record_event(session, request, "converted", actor, to_value=converted)
    queue = choose_queue(session, request)
    request.queue = queue
    session.flush()
    return queue
