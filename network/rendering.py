"""What the network's API and pages show: requests, candidate shops, bookings and found shops as dicts.

Rendering is the views' side: the logic modules return records, these turn them into what a person (or a client)
reads, masking what the reader may not see. No Flask here, so the JSON API, the pages and other domains' views
share it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from app.crm.customers import is_own_customer
from app.crm.identifiers import mask_name, mask_phone
from app.db import utcnow
from app.security import User, is_oem
from network.acceptance import eta_minutes
from network.booking import shows_customer
from network.hours import is_open_at
from network.models import AssistanceRequest, Booking, BookingStatus, Service, Shop
from network.routes import Location
from network.search import ShopIndex, shops_by_id
from network.settings import NetworkSettings
from network.shops import shop_to_dict


def candidate_to_dict(shop: Shop, distance_km: float, settings: NetworkSettings) -> dict:
    """Render a shop the OEM desk may call: contact, distance, whether it does roadside work and is open now."""
    return {
        "code": shop.code,
        "name": shop.name,
        "phone": shop.phone,
        "distance_km": round(distance_km, 1),
        "eta_minutes": eta_minutes(distance_km, settings),
        "roadside": Service.ROADSIDE in (shop.services or []),
        "open_now": is_open_at(shop.opening_hours, shop.open_24h, utcnow(), settings.zone),
    }


def request_to_dict(request: AssistanceRequest, actor: User | None, zone) -> dict:
    """Render a request: the driver sees the assigned shop, its phone and ETA; shops see the offers' status."""
    shop = request.accepted_shop
    full_contact = actor is not None and (is_oem(actor) or is_own_customer(actor, request.customer))
    # The shop that took the job needs the driver's number; shops that were only offered it do not.
    assigned_to_actor = shop is not None and actor is not None and actor.organization_id == shop.organization_id
    body = {
        "id": request.id,
        "status": request.status,
        "lat": request.lat,
        "lon": request.lon,
        "description": request.description,
        "photos": list(request.photos),
        "vin": request.vehicle.vin,
        "plate": request.vehicle.plate,
        # Row 14: shops only offered the job see the driver masked until one of them has it.
        "driver": request.customer.name if full_contact or assigned_to_actor else mask_name(request.customer.name),
        "driver_phone": request.customer.phone
        if full_contact or assigned_to_actor
        else mask_phone(request.customer.phone),
        "round": request.round,
        "radius_km": request.radius_km,
        "created_at": request.created_at.astimezone(zone).isoformat(),
        "escalated_at": request.escalated_at.astimezone(zone).isoformat() if request.escalated_at else None,
        "accepted_at": request.accepted_at.astimezone(zone).isoformat() if request.accepted_at else None,
        "eta_minutes": request.eta_minutes,
        "assigned_by_oem": request.assigned_by_id is not None,
        "assigned_shop": (
            {"code": shop.code, "name": shop.name, "phone": shop.phone, "lat": shop.lat, "lon": shop.lon}
            if shop
            else None
        ),
        "offers": [
            {
                "shop": offer.shop.code,
                "shop_name": offer.shop.name,
                "distance_km": offer.distance_km,
                "round": offer.round,
                "status": offer.status,
            }
            for offer in request.offers
            if actor is not None
            and (
                is_oem(actor)
                or is_own_customer(actor, request.customer)
                or offer.shop.organization_id == actor.organization_id
            )
        ],
    }
    return body


def booking_to_dict(booking: Booking, zone, actor: User | None = None) -> dict:
    """Render a booking; times in the shop's zone with their offset; the customer masked unless `shows_customer`."""
    full = shows_customer(actor, booking)

    def local(moment: datetime | None) -> str | None:
        return moment.astimezone(zone).isoformat() if moment else None

    return {
        "id": booking.id,
        "shop": booking.shop.code,
        "shop_name": booking.shop.name,
        "vin": booking.vehicle.vin,
        "plate": booking.vehicle.plate,
        "customer": booking.customer.name if full else mask_name(booking.customer.name),
        "customer_phone": booking.customer.phone if full else mask_phone(booking.customer.phone),
        "service": booking.service,
        "start": local(booking.start),
        "end": local(booking.end),
        "status": booking.status,
        "note": booking.note,
        "reason": booking.reason,
        "created_at": local(booking.created_at),
        "confirmed_at": local(booking.confirmed_at),
        "checked_in_at": local(booking.checked_in_at),
        "completed_at": local(booking.completed_at),
        "closed_at": local(booking.closed_at),
        "reviewable": booking.status == BookingStatus.COMPLETED,
    }


def rendered_shops(session: Session, index: ShopIndex, ids: list[int]) -> dict[int, dict]:
    """Return the API rendering of the shops `ids`, reading only those this process has not rendered since its
    shop index was built (the nearest and ahead lists are the busiest public paths: 10 shop rows per search)."""
    kept = index.rendered
    missing = [shop_id for shop_id in ids if shop_id not in kept]
    if missing:
        for shop_id, shop in shops_by_id(session, missing).items():
            kept[shop_id] = shop_to_dict(shop)
    return {shop_id: kept[shop_id] for shop_id in ids if shop_id in kept}


def nearest_to_dicts(shops: dict[int, dict], ids: list[int], found: list[tuple[int, float]]) -> list[dict]:
    """Render the shops a nearest search found (`shops`: rendered_shops), nearest first, with `distance_km`."""
    return [{**shops[shop_id], "distance_km": round(km, 3)} for shop_id, (_item, km) in zip(ids, found, strict=True)]


def ahead_to_dict(
    location: Location,
    direction: str,
    within_km: float,
    shops: dict[int, dict],
    ids: list[int],
    found: list[tuple[int, float, float]],
) -> dict:
    """Render where the truck is on its route and the shops ahead of it (`shops`: rendered_shops)."""
    sign = 1 if direction == "increasing" else -1
    items = [
        {
            **shops[shop_id],
            "km_ahead": round(ahead, 2),
            "route_km": round(location.km + ahead * sign, 2),
            "detour_km": round(2 * offset, 2),
        }
        for shop_id, (_item, ahead, offset) in zip(ids, found, strict=True)
    ]
    return {
        "highway": location.route,
        "km": round(location.km, 2),
        "direction": direction,
        "offset_km": round(location.offset_km, 3),
        "within_km": within_km,
        "items": items,
    }
