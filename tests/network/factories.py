"""Network test factories: highways from the shipped data set, shops, and bookable times."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from app.crm.models import Organization
from network.highways import import_shipped_highways, load_route_network
from network.models import AssistanceRequest, Shop
from network.routes import RouteNetwork
from network.shops import highways_by_code, snap_shop
from network.versions import SHOPS, bump_version
from tests.factories import make_driver, make_vehicle

ZONE = ZoneInfo("Asia/Shanghai")
WEEKDAYS = {day: [["08:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat")}
_sequence = itertools.count(1)


def load_highways(session: Session) -> RouteNetwork:
    """Import the shipped routes and return them in memory."""
    import_shipped_highways(session)
    return load_route_network(session)


def make_shop(session: Session, routes: RouteNetwork | None = None, **overrides: object) -> Shop:
    """Add an active, certified, 24/7 shop near Zhengzhou (snapped to the routes when given)."""
    number = next(_sequence)
    code = str(overrides.pop("code", f"SHOP-{number:05d}"))
    lat = float(overrides.pop("lat", 34.75))
    lon = float(overrides.pop("lon", 113.65))
    organization = Organization(kind="shop", code=code, name=f"Shop {number}", province="Henan", lat=lat, lon=lon)
    fields = {
        "organization": organization,
        "code": code,
        "name": f"Shop {number}",
        "lat": lat,
        "lon": lon,
        "province": "Henan",
        "city": "Zhengzhou",
        "phone": "0371-6000" + f"{number:04d}",
        "services": ["maintenance", "repair", "roadside", "tyres"],
        "bays": 2,
        "slot_minutes": 60,
        "open_24h": True,
        "opening_hours": {},
        "status": "active",
        "certification_tier": "certified",
        "rating_count": 0,
    }
    fields.update(overrides)
    shop = Shop(**fields)
    if routes is not None:
        snap_shop(shop, routes, highways_by_code(session), 5.0)
    session.add(shop)
    session.flush()
    bump_version(session, SHOPS)
    return shop


def make_assistance_request(session: Session, **overrides: object) -> AssistanceRequest:
    """Add a driver's roadside request near Zhengzhou (a new driver and truck unless given), offered to no one."""
    if "customer" not in overrides:
        overrides["customer"] = make_driver(session)[1]
    if "vehicle" not in overrides:
        overrides["vehicle"] = make_vehicle(session, owner=overrides["customer"])
    fields = {"lat": 34.7, "lon": 113.6, "description": "flat tyre", "radius_km": 30, **overrides}
    request = AssistanceRequest(**fields)
    session.add(request)
    session.flush()
    return request


def next_slot(hours_ahead: int = 3, slot_minutes: int = 60) -> datetime:
    """Return a slot start (24/7 shop) at least `hours_ahead` hours from now, in Shanghai time."""
    moment = datetime.now(ZONE) + timedelta(hours=hours_ahead)
    minutes = (moment.hour * 60 + moment.minute) // slot_minutes * slot_minutes + slot_minutes
    return moment.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(minutes=minutes)
