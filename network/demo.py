"""Network demo data: the routes, shops at service areas and in cities (with gaps), bookings, roadside requests.

Everything goes through the domain's own functions. The demo also gives shops a starting rating and
certification tier, which in a live system only the reviews domain writes; the reviews demo may overwrite them.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import load_settings
from app.crm.models import Customer, Vehicle
from app.crm.places import china_cities
from app.db import utcnow
from app.errors import MilepostError
from app.security import Role, User, create_user
from network import acceptance, assistance, booking
from network.highways import import_shipped_highways, load_route_network
from network.hours import slot_starts
from network.models import AssistanceRequest, Highway, Service, Shop
from network.routes import Route, RouteNetwork
from network.search import load_shop_index
from network.settings import NetworkSettings, network_settings
from network.shops import create_shop, highways_by_code

DEMO_PASSWORD = "milepost-demo"
DEMO_SHOP = "SHOP-ZZ-G4"
DEMO_SHOP_EMAIL = "shop@milepost.demo"
SIZES = {
    # routes (None: all), service-area spacing (km), city shops, bookings, roadside requests
    "small": {
        "routes": ("G4", "G30", "G1", "G60", "G5"),
        "spacing": (50, 90),
        "cities": 12,
        "bookings": 30,
        "roadside": 3,
    },
    "full": {"routes": None, "spacing": (35, 65), "cities": 200, "bookings": 400, "roadside": 8},
}
# Stretches with deliberately no shops (route, from km, to km): the OEM's coverage page should show them.
GAPS = (
    ("G30", 2300, 2700),
    ("G5", 1500, 1750),
    ("G60", 1200, 1400),
    ("G6", 1500, 2300),
    ("G7", 700, 1400),
    ("G15", 300, 550),
    ("G75", 900, 1150),
)
SITE_SERVICES = ("roadside", "tyres", "repair", "towing", "parts")
CITY_SERVICES = ("maintenance", "repair", "engine", "electrical", "parts", "tyres")
WEEK = {day: [["08:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def _hours(rng: random.Random, at_service_area: bool) -> dict:
    if rng.random() < (0.6 if at_service_area else 0.2):
        return {"open_24h": True}
    pattern = rng.choice(
        [
            "mon-sat 08:00-18:00",
            "mon-sun 07:00-21:00",
            "mon-fri 08:30-12:00,13:30-18:00; sat 09:00-15:00",
            "mon-sun 06:00-22:00",
        ]
    )
    return {"open_24h": False, "opening_hours": pattern}


def _pick(rng: random.Random, choices: tuple[str, ...], low: int, high: int) -> list[str]:
    return rng.sample(list(choices), rng.randint(low, high))


def _in_gap(code: str, km: float) -> bool:
    return any(route == code and start <= km <= stop for route, start, stop in GAPS)


def _site_shops(rng: random.Random, routes: RouteNetwork, size: str) -> list[dict]:
    """Return shop fields at service areas every 30-60 km (both carriageways often) outside the gaps."""
    config = SIZES[size]
    fields = []
    for route in routes.routes:
        if config["routes"] is not None and route.code not in config["routes"]:
            continue
        km = rng.uniform(5, 30)
        while km < route.length_km:
            if not _in_gap(route.code, km):
                sides = [0.3] if rng.random() < 0.55 else [0.3, -0.3]
                if rng.random() < 0.25:
                    sides = [rng.choice([-1, 1]) * rng.uniform(1.0, 4.0)]  # off an exit: serves both directions
                for offset in sides:
                    lat, lon = route.offset_point(km, offset)
                    fields.append(
                        {
                            "name": f"{route.name_zh} K{km:.0f} {'服务区' if abs(offset) < 1 else '出口'}汽修",
                            "lat": round(lat, 6),
                            "lon": round(lon, 6),
                            "address": f"{route.code} K{km:.0f}",
                            "services": _pick(rng, SITE_SERVICES, 2, 4),
                            "bays": rng.choice([1, 2, 2, 3, 4]),
                            "slot_minutes": rng.choice([30, 60, 60, 90]),
                            **_hours(rng, True),
                        }
                    )
            km += rng.uniform(*config["spacing"])
    return fields


def _city_shops(rng: random.Random, routes: RouteNetwork, size: str) -> list[dict]:
    """Return shop fields in the larger cities that lie near a route (several per city)."""
    fields, used = [], 0
    for city in china_cities():
        if used >= SIZES[size]["cities"]:
            break
        near = routes.snap(city.lat, city.lon, 25)
        if not near or (SIZES[size]["routes"] is not None and near[0].route not in SIZES[size]["routes"]):
            continue
        if _in_gap(near[0].route, near[0].km):
            continue
        used += 1
        for _shop in range(rng.randint(1, 3)):
            fields.append(
                {
                    "name": f"{city.name_zh or city.name}重卡维修中心 {_shop + 1}",
                    "lat": round(city.lat + rng.uniform(-0.06, 0.06), 6),
                    "lon": round(city.lon + rng.uniform(-0.06, 0.06), 6),
                    "city": city.name,
                    "address": f"{city.name_zh or city.name}物流园",
                    "services": _pick(rng, CITY_SERVICES, 2, 5),
                    "bays": rng.choice([2, 3, 4, 6, 8]),
                    "slot_minutes": rng.choice([30, 60, 60, 120]),
                    **_hours(rng, False),
                }
            )
    return fields


def _demo_shop(routes: RouteNetwork) -> dict:
    """The shop the demo staff account runs: G4 southbound, about 25 km south of Zhengzhou."""
    route: Route = routes.by_code["G4"]
    zhengzhou_km = route.locate(34.75, 113.65).km
    lat, lon = route.offset_point(zhengzhou_km + 25, 0.3)
    return {
        "code": DEMO_SHOP,
        "name": "郑州南服务区重汽授权服务站",
        "lat": round(lat, 6),
        "lon": round(lon, 6),
        "city": "Zhengzhou",
        "address": f"G4 K{zhengzhou_km + 25:.0f} 南行方向",
        "phone": "0371-66880000",
        "services": [service.value for service in Service],
        "bays": 4,
        "slot_minutes": 60,
        "open_24h": True,
    }


def _rate(rng: random.Random, shop: Shop) -> None:
    # Stand-in for reviews until its demo runs: a starting rating and tier for most shops.
    if rng.random() < 0.8:
        shop.rating_count = rng.randint(3, 200)
        shop.rating = Decimal(str(round(rng.uniform(3.2, 4.9), 2)))
    shop.certification_tier = rng.choices(["none", "certified", "gold"], weights=[30, 55, 15])[0]


STEPS = {
    "requested": [],
    "confirmed": ["confirm"],
    "checked_in": ["confirm", "check-in"],
    "completed": ["confirm", "check-in", "complete"],
    "cancelled": ["cancel"],
    "rejected": ["reject"],
    "no_show": ["confirm", "no-show"],
    "expired": [],  # requested, never answered: expired by the worker's job once its start passed
}


def _start_for(rng: random.Random, shop: Shop, state: str, settings: NetworkSettings, now: datetime) -> datetime | None:
    """Pick a slot start that suits the state: the latest started slot, a past day, or a coming day."""
    if state == "checked_in":
        # The latest slot that has started; just after midnight that is yesterday's last one.
        today = now.astimezone(settings.zone).date()
        starts = [
            start
            for day in (today - timedelta(days=1), today)
            for start in slot_starts(shop.opening_hours, shop.open_24h, shop.slot_minutes, day, settings.zone)
        ]
        started = [start for start in starts if start <= now - timedelta(minutes=5)]
        return started[-1] if started else None
    past = state in ("completed", "no_show", "expired") or (state in ("cancelled", "rejected") and rng.random() < 0.5)
    day = (now + timedelta(days=rng.randint(-40, -1) if past else rng.randint(1, 12))).astimezone(settings.zone).date()
    starts = slot_starts(shop.opening_hours, shop.open_24h, shop.slot_minutes, day, settings.zone)
    return rng.choice(starts) if starts else None


def _moment(action: str, previous: datetime, start: datetime, shop: Shop, rng: random.Random) -> datetime:
    if action == "check-in":
        return start
    if action == "complete":
        return start + timedelta(minutes=shop.slot_minutes)
    if action == "no-show":
        return start + timedelta(minutes=30)
    return previous + timedelta(minutes=rng.randint(5, 60))


def _bookings(
    session: Session,
    rng: random.Random,
    shops: list[Shop],
    demo_shop: Shop,
    staff: User,
    settings: NetworkSettings,
    count: int,
    track: Callable[[Iterable, str], Iterable],
) -> int:
    """Create bookings in every state (the demo driver's at the demo shop first), back-dated where needed."""
    owners = session.execute(
        select(User, Vehicle)
        .join(Customer, Customer.user_id == User.id)
        .join(Vehicle, Vehicle.owner_id == Customer.id)
        .order_by(User.id, Vehicle.id)
    ).all()
    oem = session.scalar(select(User).where(User.role == Role.OEM_ADMIN).order_by(User.id))
    owners += [(user, vehicle) for user, vehicle in owners for _ in range(count // max(len(owners), 1))]
    now = utcnow()
    made_count = 0
    # Through `track`: the worker's build commits between bookings (SQLite has one write lock).
    for number in track(range(count), "Bookings"):
        user, vehicle = owners[0] if number < len(STEPS) else rng.choice(owners)
        shop = demo_shop if number < 2 * len(STEPS) else rng.choice(shops)
        state = list(STEPS)[number % len(STEPS)]
        start = _start_for(rng, shop, state, settings, now)
        if start is None:
            continue
        booked_at = min(start - timedelta(hours=rng.randint(3, 72)), now)
        try:
            made = booking.book_slot(
                session, user, shop, vehicle, rng.choice(shop.services), start, settings, now=booked_at
            )
        except MilepostError:
            continue  # a random pick may clash with an earlier booking; skip it
        moment = booked_at
        for action in STEPS[state]:
            moment = min(_moment(action, moment, start, shop, rng), now)
            actor = user if action == "cancel" else (staff if shop.id == demo_shop.id else oem)
            booking.transition_booking(session, actor, made, action, settings, reason="demo", now=moment)
        made_count += 1
    booking.expire_unanswered(session, now)
    return made_count


def _roadside(session: Session, rng: random.Random, shops: list[Shop], settings: NetworkSettings, count: int) -> None:
    """Create a few roadside requests near roadside shops; about half of them accepted by the nearest shop."""
    index = load_shop_index(session)
    drivers = session.execute(
        select(User, Vehicle).join(Customer, Customer.user_id == User.id).join(Vehicle, Vehicle.owner_id == Customer.id)
    ).all()
    oem = session.scalar(select(User).where(User.role == Role.OEM_ADMIN).order_by(User.id))
    helpers = [shop for shop in shops if "roadside" in shop.services] or shops
    open_of: dict[int, AssistanceRequest] = {}
    for number in range(count):
        user, vehicle = rng.choice(drivers)
        if vehicle.id in open_of:
            # A truck has one open request at a time: the earlier breakdown was sorted out some other way.
            acceptance.close_request(session, user, open_of.pop(vehicle.id), "cancel")
        near = rng.choice(helpers)
        lat, lon = near.lat + rng.uniform(-0.08, 0.08), near.lon + rng.uniform(-0.08, 0.08)
        request = assistance.request_assistance(
            session,
            user,
            vehicle,
            lat,
            lon,
            rng.choice(["爆胎", "发动机故障灯亮", "刹车异响"]),
            [],
            index,
            settings,
        )
        open_of[vehicle.id] = request
        if number % 2 == 0 and request.offers:
            acceptance.accept_request(session, oem, request, request.offers[0].shop, settings)


def _route_network(session: Session) -> RouteNetwork:
    # The logins step imports the shipped routes to place the demo shop; the network step then finds them.
    if session.scalar(select(Highway.id).limit(1)) is None:
        import_shipped_highways(session)
    return load_route_network(session)


def seed_logins(session: Session) -> list[str]:
    """Create the demo shop and its staff account before the rest of the network, so that shop@ can sign in while
    the worker builds the other shops (the first phase of `milepost serve --demo`); return the login line."""
    settings = network_settings(load_settings())
    routes = _route_network(session)
    shop = create_shop(session, _demo_shop(routes), routes, settings.snap_km, highways_by_code(session))
    shop.rating, shop.rating_count, shop.certification_tier = Decimal("4.70"), 128, "gold"
    create_user(
        session,
        role=Role.SHOP_STAFF,
        password=DEMO_PASSWORD,
        email=DEMO_SHOP_EMAIL,
        organization_id=shop.organization_id,
        display_name=shop.name,
    )
    session.flush()
    return [f"Shop staff ({DEMO_SHOP}, G4 south of Zhengzhou)  {DEMO_SHOP_EMAIL} / {DEMO_PASSWORD}"]


def seed(session: Session, rng: random.Random, size: str, track: Callable[[Iterable, str], Iterable]) -> list[str]:
    """Add this domain's demo records (after the logins step made the demo shop); return lines to print."""
    settings = network_settings(load_settings())
    if session.scalar(select(Shop.id).where(Shop.code == DEMO_SHOP)) is None:
        seed_logins(session)
    demo_shop = session.scalars(select(Shop).where(Shop.code == DEMO_SHOP)).one()
    staff = session.scalars(select(User).where(User.email == DEMO_SHOP_EMAIL)).one()
    routes = _route_network(session)
    highways = highways_by_code(session)
    fields = [*_site_shops(rng, routes, size), *_city_shops(rng, routes, size)]
    shops = [demo_shop]
    for number, shop_fields in enumerate(track(fields, "Shops"), start=2):
        shop_fields.setdefault("code", f"SHOP-{number:05d}")
        shop_fields.setdefault("phone", f"0{rng.randint(310, 999)}-{rng.randint(60000000, 69999999)}")
        shop = create_shop(session, shop_fields, routes, settings.snap_km, highways)
        _rate(rng, shop)
        shops.append(shop)
    session.flush()
    made = _bookings(session, rng, shops, demo_shop, staff, settings, SIZES[size]["bookings"], track)
    _roadside(session, rng, shops, settings, SIZES[size]["roadside"])
    session.flush()
    return [f"Network: {len(shops)} shops on {len(routes.routes)} routes, {made} bookings"]
