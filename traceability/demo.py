"""Traceability demo data, built through the domain's own services: a truck-parts catalogue, batches with
custody chains into warehouses, dealers and shops, installations, recalls and planted counterfeit/clone cases."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from functools import partial

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.models import Customer, Organization, OrganizationKind, Vehicle
from app.errors import MilepostError
from app.geo import LatLon
from app.security import Role, User
from app.web.context import code_keyring
from traceability.catalogue import create_part_type
from traceability.codes import activation_code_for, build_part_url, parse_digital_link
from traceability.commissioning import commission_batch, list_batch_parts
from traceability.custody import CustodyLimits, record_event
from traceability.custody_input import EventRequest
from traceability.models import Part
from traceability.recalls import create_recall
from traceability.records import refresh_sale_price_ranges
from traceability.scans import verify_scan
from traceability.settings import ClonePolicy

# Part number, Chinese name, English name, category, guide price (CNY), warranty months.
CATALOGUE = (
    ("VG1540080311", "机油滤清器", "Oil filter", "filters", "68.00", 6),
    ("VG1560080012", "柴油滤清器", "Fuel filter", "filters", "85.00", 6),
    ("WG9725190102", "空气滤清器滤芯", "Air filter element", "filters", "168.00", 6),
    ("WG9100443050", "后制动蹄片总成", "Rear brake shoe assembly", "brakes", "420.00", 12),
    ("WG9925520270", "前制动鼓", "Front brake drum", "brakes", "560.00", 12),
    ("WG9725161390", "离合器从动盘", "Clutch driven plate", "clutch", "980.00", 12),
    ("WG9114160020", "离合器压盘总成", "Clutch pressure plate assembly", "clutch", "1650.00", 12),
    ("VG1034080001", "喷油器总成", "Fuel injector assembly", "fuel_injection", "2380.00", 12),
    ("VG1560110366", "涡轮增压器", "Turbocharger", "turbocharging", "6800.00", 24),
    ("VG1500060051", "水泵总成", "Water pump assembly", "pumps", "890.00", 12),
    ("WG9719130024", "转向助力泵", "Power steering pump", "pumps", "1320.00", 12),
    ("VG1560090010", "发电机 28V 70A", "Alternator 28V 70A", "electrical", "1880.00", 24),
    ("VG1560090001", "起动机 24V 7.5kW", "Starter motor 24V 7.5kW", "electrical", "2150.00", 24),
    ("WG9725530020", "散热器总成", "Radiator assembly", "engine", "2650.00", 24),
    ("TY-12R22.5-18", "全钢子午线轮胎 12R22.5", "All-steel radial tyre 12R22.5", "tyres", "1980.00", 24),
)
BATCH_SIZES = {"small": 12, "full": 200}
DEMO_DRIVER_PHONE = "13800138000"
LIMITS = CustodyLimits(
    max_parts=10_000,
    activation_max_failures=5,
    activation_client_max_failures=1000,
    activation_window=timedelta(hours=1),
)
STAFF_ROLE = {
    OrganizationKind.FACTORY: Role.FACTORY_STAFF,
    OrganizationKind.WAREHOUSE: Role.WAREHOUSE_STAFF,
    OrganizationKind.DEALER: Role.DEALER_STAFF,
    OrganizationKind.SHOP: Role.SHOP_STAFF,
    OrganizationKind.OEM: Role.OEM_ADMIN,
}


class DemoStaff:
    """One staff account per organization that records events (existing demo logins are reused)."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.users: dict[int, User] = {}

    def of(self, organization: Organization) -> User:
        """Return a user of `organization` with the role its kind implies."""
        if organization.id in self.users:
            return self.users[organization.id]
        role = STAFF_ROLE[organization.kind]
        user = self.session.scalar(select(User).where(User.organization_id == organization.id, User.role == role))
        if user is None:
            # Records events only: the password hash is not a hash of anything, so nobody can sign in as it.
            user = User(
                email=f"{organization.code.lower()}@staff.milepost.demo",
                password_hash="!demo-no-login",
                role=role,
                organization_id=organization.id,
                display_name=organization.name,
            )
            self.session.add(user)
            self.session.flush()
        self.users[organization.id] = user
        return user


def _organizations(session: Session, kind: str) -> list[Organization]:
    return list(session.scalars(select(Organization).where(Organization.kind == kind).order_by(Organization.code)))


def seed(session: Session, rng: random.Random, size: str, track: Callable[[Iterable, str], Iterable]) -> list[str]:
    """Add this domain's demo records; return lines describing demo logins and label URLs to print."""
    ring = code_keyring()
    base_url = current_app.config["PUBLIC_BASE_URL"]
    factories = _organizations(session, OrganizationKind.FACTORY)
    warehouses = _organizations(session, OrganizationKind.WAREHOUSE)
    dealers = _organizations(session, OrganizationKind.DEALER)
    # Shops belong to the network domain; when it has created some, parts flow on to them and they install.
    shops = _organizations(session, OrganizationKind.SHOP)
    installers = shops or dealers
    if not (factories and warehouses and dealers):
        return []
    vehicles = list(session.scalars(select(Vehicle).order_by(Vehicle.id)))
    staff = DemoStaff(session)
    prefix = current_app.config["GS1_COMPANY_PREFIX"]
    part_types = [
        create_part_type(
            session,
            part_number=number,
            name_zh=name_zh,
            name_en=name_en,
            category=category,
            guide_price=price,
            warranty_months=months,
            company_prefix=prefix,
        )
        for number, name_zh, name_en, category, price, months in CATALOGUE
    ]
    today = date.today()
    batches = []
    for part_type in track(part_types, "Part batches"):
        for _ in range(2):
            batches.append(
                commission_batch(
                    session,
                    ring,
                    part_type=part_type,
                    factory=rng.choice(factories),
                    quantity=BATCH_SIZES[size],
                    production_line=f"L{rng.randint(1, 6)}",
                    production_date=today - timedelta(days=rng.randint(30, 400)),
                    qc_result="passed",
                    qc_inspector=rng.choice(("李工", "王工", "张工", "刘工")),
                    max_quantity=10_000,
                )
            )

    def move(actor_org: Organization, event_type: str, parts: list[Part], **fields) -> None:
        references = [{"gtin": part.gtin, "serial": part.serial} for part in parts]
        request = EventRequest(type=event_type, parts=references, **fields)
        record_event(session, ring, staff.of(actor_org), request, LIMITS, client="demo")

    installed: list[Part] = []
    fresh: list[Part] = []
    vehicle_pool = list(vehicles)
    rng.shuffle(vehicle_pool)
    # The demo driver's truck is fitted first, so signing in as that driver shows installed parts.
    vehicle_pool.sort(key=lambda vehicle: vehicle.owner.phone == DEMO_DRIVER_PHONE)

    def chain_moves() -> Iterator[Callable[[], None]]:
        """Yield each batch's custody moves one by one, drawing at random in the order the batches come."""
        for batch in batches:
            parts = list_batch_parts(session, batch)
            warehouse, dealer = rng.choice(warehouses), rng.choice(dealers)
            stock = parts[: len(parts) - 2]
            fresh.extend(parts[len(parts) - 2 :])
            yield partial(move, batch.factory, "ship", stock, to=warehouse.code)
            yield partial(move, warehouse, "receive", stock)
            onward = parts[: len(parts) // 2]
            yield partial(move, warehouse, "ship", onward, to=dealer.code)
            yield partial(move, dealer, "receive", onward)
            installer = dealer
            if shops:
                installer = rng.choice(shops)
                onward = onward[: len(onward) // 2]
                yield partial(move, dealer, "ship", onward, to=installer.code)
                yield partial(move, installer, "receive", onward)
            guide = batch.part_type.guide_price
            for part in onward[: max(1, len(onward) // 2)]:
                price = (guide * Decimal(str(rng.uniform(0.85, 1.3)))).quantize(Decimal("0.01"))
                yield partial(move, installer, "sell", [part], price=str(price))
                if vehicle_pool:
                    vehicle = vehicle_pool.pop()
                    yield partial(
                        move,
                        installer,
                        "install",
                        [part],
                        vin=vehicle.vin,
                        activation_code=activation_code_for(ring, part.gtin, part.serial),
                    )
                    installed.append(part)

    # One move at a time through `track`: the worker's build commits between moves, so no batch's whole chain
    # (dozens of events, half a minute on a busy machine) holds SQLite's write lock past a sign-in's busy timeout.
    for chain_move in track(chain_moves(), "Custody moves"):
        chain_move()

    lines = _plant_cases(session, ring, base_url, installed, fresh, installers, staff)
    oem = session.scalar(select(Organization).where(Organization.kind == OrganizationKind.OEM))
    recalled = batches[rng.randrange(len(batches))]
    if oem is not None:
        create_recall(
            session,
            staff.of(oem),
            batch_id=recalled.id,
            notice_zh="该批次产品可能存在早期磨损，请到授权服务站免费更换。",
            notice_en="Parts of this lot may wear early; have them replaced free of charge at an authorized shop.",
        )
        lines.append(f"Recalled part       {_url(base_url, list_batch_parts(session, recalled)[0])}")
    # Scan pages read kept price ranges (the hourly job keeps them); the demo should show them from the start.
    refresh_sale_price_ranges(session)
    return lines


def _url(base_url: str, part: Part) -> str:
    return build_part_url(base_url, part.gtin, part.serial, part.tag)


def _plant_cases(session, ring, base_url, installed, fresh, installers, staff) -> list[str]:
    """Plant what the OEM views should show: a cloned code, a forged code, a destroyed part, a resale attempt."""
    policy = ClonePolicy(max_speed_kmh=150, max_cities=3, far_km=800, history=50)
    origin = base_url.rstrip("/").lower()
    lines = []
    genuine, clone = fresh[0], fresh[1]
    lines.append(f"Genuine part        {_url(base_url, genuine)}")
    link = parse_digital_link(_url(base_url, clone))
    # Beijing, then Guangzhou minutes later: the second scan is a shop's, whose position corroborates (row 26).
    for (lat, lon), actor in (((39.90, 116.41), None), ((23.13, 113.26), staff.of(installers[0]))):
        verify_scan(
            session, ring, link, origin=origin, position=LatLon(lat, lon), intent=None, actor=actor, policy=policy
        )
    lines.append(f"Cloned code         {_url(base_url, clone)}")
    forged = _url(base_url, fresh[2]).rsplit("=", 1)[0] + "=B" + "7" * 16
    verify_scan(
        session,
        ring,
        parse_digital_link(forged),
        origin=origin,
        position=LatLon(31.23, 121.47),
        intent=None,
        actor=None,
        policy=policy,
    )
    lines.append(f"Forged code         {forged}")
    if installed:
        driver_vehicle = session.scalar(
            select(Vehicle).join(Customer, Customer.id == Vehicle.owner_id).where(Customer.phone == DEMO_DRIVER_PHONE)
        )
        part = installed[0]
        lines.append(f"Installed part      {_url(base_url, part)}")
        if driver_vehicle is not None:
            lines.append(f"Driver's truck VIN  {driver_vehicle.vin} (GET /api/v1/vehicles/{driver_vehicle.vin}/parts)")
    if len(installed) > 1:
        # A shop tries to sell a part that is already on a truck: refused, alerted, and suspect from then on.
        resold = installed[1]
        try:
            request = EventRequest(type="sell", parts=[{"gtin": resold.gtin, "serial": resold.serial}])
            record_event(session, ring, staff.of(installers[0]), request, LIMITS, client="demo")
        except MilepostError:
            pass
    destroyed = fresh[3]
    factory = destroyed.holder
    record_event(
        session,
        ring,
        staff.of(factory),
        EventRequest(type="destroy", parts=[{"gtin": destroyed.gtin, "serial": destroyed.serial}]),
        LIMITS,
        client="demo",
    )
    lines.append(f"Destroyed part      {_url(base_url, destroyed)}")
    return lines
