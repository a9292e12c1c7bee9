"""Knowledge demo data: the shipped entries, a Weichai China VI entry and model profiles, a few articles, and
fault histories on demo trucks with the fixes shops recorded (enough cases for the common-fix lists to show).

Past services are history the booking service cannot create (it books future slots only), so the completed
bookings behind the fixes are written as records, as the reviews demo does; faults and fixes go through the
domain's own functions.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import load_settings
from app.crm.models import Customer, Vehicle
from app.db import utcnow
from app.errors import InvalidInput
from app.security import Role, User
from knowledge.articles import save_article
from knowledge.codes import parse_code
from knowledge.entries import import_entries, install_shipped_entries, set_model_profile
from knowledge.faults import record_check_in_faults, record_driver_fault, record_telematics_report
from knowledge.fixes import record_booking_fix
from knowledge.models import FixKind
from network.highways import load_route_network
from network.models import Booking, BookingStatus, Shop
from network.search import Filters, load_shop_index, locate_truck, shops_ahead
from network.settings import network_settings
from network.shops import update_shop
from traceability.models import PartType

DEMO_DRIVER_PHONE = "13800138000"
# Zhengzhou on G4, heading south: where the demo's lookup link stands.
DEMO_POSITION = (34.75, 113.65, 180.0)
# An illustrative OEM-specific row, marked as imported: what `milepost knowledge import` would add.
WEICHAI_TABLE = (
    "scheme,code,fmi,engine_family,emission_stage,title_zh,title_en,text_zh,text_en,severity,may_continue,service\n"
    "j1939,3251,0,weichai,cn6,潍柴国六 DPF 堵塞,Weichai China VI DPF blocked,"
    "演示数据：潍柴国六发动机的 DPF 严重堵塞。请到服务站做驻车再生。,"
    "Demo data: the particulate filter of a Weichai China VI engine is badly blocked. Have a parked regeneration done.,"
    "service_soon,limited,engine\n"
)
PROFILES = (
    ("HOWO TX 6x4 tractor", "weichai", "cn6"),
    ("HOWO T7H 6x4 tractor", "mc", "cn6"),
    ("SITRAK C7H 6x4 tractor", "mc", "cn6"),
    ("HOWO 8x4 dump truck", "weichai", "cn5"),
)
ARTICLES = (
    (
        "low-oil-pressure",
        {"zh": "机油压力低：先停车再说", "en": "Low oil pressure: stop first"},
        {
            "zh": "## 为什么要马上停车\n\n机油压力过低时，曲轴和轴瓦很快就会磨坏。**安全停车、熄火**，"
            "检查机油尺。\n\n## 常见原因\n\n- 机油不足或漏油\n- 机油滤清器堵塞\n- 机油泵或压力传感器故障\n",
            "en": "## Why stop at once\n\nWithout oil pressure the bearings wear out within minutes. **Stop safely and "
            "switch off**, then check the dipstick.\n\n## Common causes\n\n- low oil or a leak\n- a blocked oil "
            "filter\n- a failing oil pump or pressure sensor\n",
        },
        ["SPN 100"],
    ),
    (
        "urea-quality",
        {"zh": "尿素品质差导致限扭", "en": "Poor urea and engine derate"},
        {
            "zh": "国六车辆使用不合格尿素会报尿素品质故障，随后限扭限速。请只加注符合国标的车用尿素，"
            "并保持尿素箱盖清洁。\n",
            "en": "China VI trucks report a urea quality fault on poor urea, then derate. Use only urea that meets "
            "the national standard and keep the tank cap clean.\n",
        },
        ["SPN 3364", "SPN 1761", "SPN 4364"],
    ),
    (
        "dpf-regeneration",
        {"zh": "DPF 再生：行车再生与驻车再生", "en": "DPF regeneration: driving and parked"},
        {
            "zh": "颗粒捕集器（DPF）积碳多了要再生。高速行驶时会自动再生；城市工况多的车辆，"
            "仪表提示时请按步骤做驻车再生，期间不要熄火。\n",
            "en": "A particulate filter full of soot must regenerate. At motorway speed it does so by itself; trucks "
            "in town should run a parked regeneration when the dash asks, without switching off.\n",
        },
        ["SPN 3251", "SPN 3719", "SPN 5319"],
    ),
)
# Code, fix kind, part number fitted (the traceability demo catalogue's), how many demo trucks had it fixed so.
FIX_HISTORY = (
    ("3251/0", FixKind.CLEANING, None, 4),
    ("3251/0", FixKind.WIRING, None, 1),
    ("100/1", FixKind.PART_REPLACED, "VG1540080311", 3),  # oil filter
    ("100/1", FixKind.WIRING, None, 1),
    ("3364/18", FixKind.REFILL, None, 3),
    ("157/18", FixKind.PART_REPLACED, "VG1560080012", 2),  # fuel filter
)


def _completed_booking(session: Session, shop: Shop, vehicle: Vehicle, when) -> Booking:
    booking = Booking(
        shop_id=shop.id,
        customer_id=vehicle.owner_id,
        vehicle_id=vehicle.id,
        service="engine",
        start=when - timedelta(hours=2),
        end=when,
        status=BookingStatus.CHECKED_IN,
        created_at=when - timedelta(days=1),
        confirmed_at=when - timedelta(hours=20),
        checked_in_at=when - timedelta(hours=2),
    )
    session.add(booking)
    session.flush()
    return booking


def _staff_of(session: Session, shop: Shop) -> User:
    user = session.scalar(
        select(User).where(User.organization_id == shop.organization_id, User.role == Role.SHOP_STAFF)
    )
    if user is None:
        user = User(
            email=f"staff-{shop.code.lower()}@milepost.demo",
            password_hash="!",  # no password: a record-keeping account, not a login
            role=Role.SHOP_STAFF,
            organization_id=shop.organization_id,
            display_name=shop.name,
        )
        session.add(user)
        session.flush()
    return user


def _fix_history(session: Session, rng: random.Random, vehicles: list[Vehicle], shops: list[Shop]) -> int:
    part_by_number = {part.part_number: part for part in session.scalars(select(PartType))}
    now = utcnow()
    recorded = 0
    trucks = iter(rng.sample(vehicles, min(len(vehicles), sum(row[3] for row in FIX_HISTORY))))
    for code, kind, part_number, count in FIX_HISTORY:
        for _case in range(count):
            vehicle = next(trucks, None)
            if vehicle is None:
                return recorded
            shop = rng.choice(shops)
            staff = _staff_of(session, shop)
            booking = _completed_booking(session, shop, vehicle, now - timedelta(days=rng.randint(2, 60)))
            (fault,) = record_check_in_faults(session, staff, booking, [parse_code(code)])
            part = part_by_number.get(part_number) if part_number else None
            # Without the demo catalogue's part (a data set without traceability), record "no fault found".
            kind_used = FixKind.NO_FAULT_FOUND if kind == FixKind.PART_REPLACED and part is None else kind
            record_booking_fix(session, staff, booking, fault, kind_used, part_type=part)
            booking.status = BookingStatus.COMPLETED
            booking.completed_at = booking.end
            recorded += 1
    session.flush()
    return recorded


def _engine_shops_ahead_of_zhengzhou(session: Session, wanted: int = 3) -> None:
    """Make sure a few 24/7 shops ahead on G4 south of Zhengzhou do engine work, so the demo lookup ends at
    three shops (the random network may give that stretch fewer), through network's own shop update."""
    settings = network_settings(load_settings())
    routes = load_route_network(session)
    try:
        location, direction = locate_truck(routes, *DEMO_POSITION, None, None, settings)
    except InvalidInput:
        return
    index = load_shop_index(session)
    ahead = shops_ahead(index, routes, location, direction, 150, Filters(), settings)
    candidates = [session.get(Shop, int(index.ids[position])) for position, _km, _offset in ahead]
    engine = [shop for shop in candidates if shop.open_24h and "engine" in shop.services]
    for shop in [shop for shop in candidates if shop.open_24h and "engine" not in shop.services]:
        if len(engine) >= wanted:
            break
        update_shop(session, shop, {"services": [*shop.services, "engine"]}, routes, settings.snap_km, True)
        engine.append(shop)


def seed(session: Session, rng: random.Random, size: str, track: Callable[[Iterable, str], Iterable]) -> list[str]:
    """Add this domain's demo records; return lines describing them."""
    added, _updated = install_shipped_entries(session)
    import_entries(session, WEICHAI_TABLE.encode())
    for model, engine_family, stage in PROFILES:
        set_model_profile(session, model, engine_family, stage)
    oem = session.scalar(select(User).where(User.role == Role.OEM_ADMIN).order_by(User.id))
    for slug, title, body, codes in ARTICLES:
        save_article(session, oem, slug, title, body, codes=codes, publish=True)
    vehicles = list(session.scalars(select(Vehicle).order_by(Vehicle.id)))
    shops = list(session.scalars(select(Shop).where(Shop.services.is_not(None)).order_by(Shop.id)))
    shops = [shop for shop in shops if "engine" in (shop.services or [])] or shops
    fixes = _fix_history(session, rng, vehicles, shops) if vehicles and shops else 0
    _engine_shops_ahead_of_zhengzhou(session)
    driver_truck = session.scalar(
        select(Vehicle).join(Customer, Customer.id == Vehicle.owner_id).where(Customer.phone == DEMO_DRIVER_PHONE)
    )
    if driver_truck is not None and driver_truck.owner.user is not None:
        record_driver_fault(session, driver_truck.owner.user, driver_truck, parse_code("SPN 1761 FMI 17"))
        record_telematics_report(session, oem, driver_truck, [parse_code("3719/16")])
    session.flush()
    return [
        f"Knowledge: {added} shipped fault entries, {len(ARTICLES)} articles, {fixes} recorded fixes; "
        "try /faults?code=SPN+100+FMI+1&lat=34.75&lon=113.65&heading=180"
    ]
