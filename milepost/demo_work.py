"""The demo's open work: something for every demo login to do on its landing page (issue 13 item 8).

The domains' demos build history (shops, parts moving down the chain, reviews, tiers). This last step leaves work
open for the people who sign in: parts on their way to the demo warehouse, dealer and shop, parts in the shop's
stock to install or sell, a fresh batch at the demo factory, a roadside request offered to the demo shop, a recall
that affects the demo driver's truck, and an alert that several drivers reported. It runs through the domains' own
services, like every demo step.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Iterator
from datetime import date, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.config import load_settings
from app.crm.customers import register_driver
from app.crm.models import Customer, Organization, Vehicle
from app.crm.vehicles import register_vehicle
from app.db import utcnow
from app.one_time_codes import PhoneProof
from app.security import User
from app.web.context import code_keyring
from milepost.demo import DEMO_DRIVER_PHONE, DEMO_PASSWORD, make_vin
from network import assistance
from network.demo import DEMO_SHOP
from network.models import AssistanceOffer, AssistanceRequest, OfferStatus, Shop
from network.search import load_shop_index
from network.settings import network_settings
from reviews.models import ReissueReason
from reviews.plaques import request_reissue
from traceability.codes import activation_code_for
from traceability.commissioning import commission_batch, list_batch_parts
from traceability.custody import record_event
from traceability.custody_input import EventRequest
from traceability.demo import LIMITS, DemoStaff
from traceability.models import Alert, Part, PartType
from traceability.recalls import create_recall
from traceability.reporting import report_problem

# The batch left open at the demo factory, and how its parts are spread down the chain.
WORK_BATCH = 36
AT_FACTORY, TO_WAREHOUSE, WAREHOUSE_STOCK, TO_DEALER, DEALER_STOCK, TO_SHOP, SHOP_STOCK, INSTALLED = (
    6,
    6,
    4,
    4,
    4,
    3,
    6,
    3,
)
REPORTS = (
    ("counterfeit", "包装和原厂的不一样，扫码显示假冒。", "Zhengzhou"),
    ("counterfeit", "The code on this filter does not check out.", "Xinxiang"),
    ("counterfeit", "配件店说是正品，扫出来是假的。", "Luoyang"),
)
HELPER_PHONE = "13900139000"
RECALL_NOTICE_ZH = "该批次涡轮增压器密封圈可能提前老化，请预约授权服务站免费检查更换。"
RECALL_NOTICE_EN = (
    "The seal of these turbochargers may age early: book a free check and replacement at an authorized shop."
)
PLAQUE_NOTE = "台风刮坏了门口的认证牌，二维码扫不出来"


def _demo_logins(session: Session) -> dict[str, User]:
    users = session.scalars(select(User).where(User.email.like("%@milepost.demo"))).all()
    return {user.email.split("@")[0]: user for user in users}


def seed_work(session: Session, rng: random.Random, size: str, track: Callable[[Iterable, str], Iterable]) -> list[str]:
    """Leave work open for every demo login; return a line saying what waits where.

    Its parts (the batch, each move down the chain, the recall, the reports, the roadside request) are the items
    walked through `track`, so that the worker's build commits between them (the step took SQLite's write lock for
    half a minute in one transaction under load, and a sign-in waiting for it got a 503)."""
    lines: list[str] = []
    for _part in track(_work_parts(session, rng, lines), "open work"):
        pass
    return lines


def _work_parts(session: Session, rng: random.Random, lines: list[str]) -> Iterator[str]:
    """Leave the open work, yielding after each part; append the line saying what waits where to `lines`."""
    logins = _demo_logins(session)
    needed = ("oem", "factory", "warehouse", "dealer", "shop")
    shop = session.scalar(select(Shop).where(Shop.code == DEMO_SHOP))
    part_type = session.scalar(select(PartType).order_by(PartType.id))
    if shop is None or part_type is None or any(name not in logins for name in needed):
        return
    ring = code_keyring()
    staff = DemoStaff(session)
    factory, warehouse, dealer, shop_org = (
        session.get(Organization, logins[name].organization_id) for name in ("factory", "warehouse", "dealer", "shop")
    )

    def move(organization: Organization, event_type: str, parts: list[Part], **fields) -> None:
        references = [{"gtin": part.gtin, "serial": part.serial} for part in parts]
        request = EventRequest(type=event_type, parts=references, **fields)
        record_event(session, ring, staff.of(organization), request, LIMITS, client="demo")

    turbo = session.scalar(select(PartType).where(PartType.name_en == "Turbocharger")) or part_type
    batch = commission_batch(
        session,
        ring,
        part_type=turbo,
        factory=factory,
        quantity=WORK_BATCH,
        production_line="L2",
        production_date=date.today() - timedelta(days=3),
        qc_result="passed",
        qc_inspector="李工",
        max_quantity=10_000,
        created_by=logins["factory"],
    )
    yield "batch"
    parts = list_batch_parts(session, batch)[AT_FACTORY:]
    to_warehouse, parts = parts[:TO_WAREHOUSE], parts[TO_WAREHOUSE:]
    move(factory, "ship", to_warehouse + parts, to=warehouse.code)
    yield "to the warehouse"
    move(warehouse, "receive", parts)
    yield "warehouse stock"
    parts = parts[WAREHOUSE_STOCK:]
    to_dealer, parts = parts[:TO_DEALER], parts[TO_DEALER:]
    move(warehouse, "ship", to_dealer + parts, to=dealer.code)
    yield "to the dealer"
    move(dealer, "receive", parts)
    yield "dealer stock"
    parts = parts[DEALER_STOCK:]
    move(dealer, "ship", parts, to=shop_org.code)
    yield "to the shop"
    parts = parts[TO_SHOP:]  # the first TO_SHOP stay on their way to the shop
    move(shop_org, "receive", parts)
    yield "shop stock"
    fitted = parts[SHOP_STOCK:][:INSTALLED]
    trucks = _trucks_for_recall(session, rng, len(fitted))
    for part, truck in zip(fitted, trucks, strict=False):
        move(shop_org, "sell", [part], price=str(turbo.guide_price))
        move(
            shop_org,
            "install",
            [part],
            vin=truck.vin,
            activation_code=activation_code_for(ring, part.gtin, part.serial),
        )
        yield "installed"
    recall = create_recall(
        session,
        logins["oem"],
        notice_zh=RECALL_NOTICE_ZH,
        notice_en=RECALL_NOTICE_EN,
        serials=[{"gtin": part.gtin, "serial": part.serial} for part in fitted],
    )
    yield "recall"
    reported = _report_forged_code(session)
    yield "reports"
    offered = _roadside_offer(session, shop)
    yield "roadside"
    # The OEM's queue of plaque re-issue requests (dashboard figure, certification board) is not empty.
    request_reissue(session, logins["shop"], shop, ReissueReason.DAMAGED, PLAQUE_NOTE, utcnow())
    lines.append(
        f"Open work: {AT_FACTORY} parts of lot {batch.lot} at {factory.code}, {TO_WAREHOUSE} on their way to "
        f"{warehouse.code} and {WAREHOUSE_STOCK} in its stock, {TO_DEALER} to {dealer.code} and {DEALER_STOCK} "
        f"in its stock, {TO_SHOP} to {DEMO_SHOP} and {SHOP_STOCK} in its stock; "
        f"recall {recall.code} on {len(trucks)} trucks (the demo driver's among them); "
        f"{reported} driver reports on one alert; roadside offer to {DEMO_SHOP}: {'yes' if offered else 'no'}; "
        f"a plaque re-issue request from {DEMO_SHOP} for the OEM"
    )
    yield "plaque"


def _trucks_for_recall(session: Session, rng: random.Random, count: int) -> list[Vehicle]:
    """Return the demo driver's truck and `count - 1` others."""
    mine = session.scalar(
        select(Vehicle).join(Customer, Customer.id == Vehicle.owner_id).where(Customer.phone == DEMO_DRIVER_PHONE)
    )
    others = list(session.scalars(select(Vehicle).where(Vehicle.id != mine.id).order_by(Vehicle.id).limit(200)))
    return [mine, *rng.sample(others, min(count - 1, len(others)))]


def _report_forged_code(session: Session) -> int:
    """Have several drivers report the forged code the traceability demo scanned: one alert, every report on it."""
    forged = session.scalar(
        select(Alert).where(Alert.part_id.is_(None), Alert.gtin.is_not(None)).order_by(Alert.id).limit(1)
    )
    if forged is None:
        return 0
    for number, (problem, message, _city) in enumerate(REPORTS):
        report_problem(
            session,
            None,
            gtin=forged.gtin,
            serial=forged.serial,
            problem=problem,
            message=message,
            client=f"demo-driver-{number}",
            limit=100,
            window=timedelta(hours=1),
        )
    return len(REPORTS)


def _roadside_offer(session: Session, shop: Shop) -> bool:
    """Have a driver break down just north of the demo shop, so that it is offered the job; tell whether it was."""
    helper = register_driver(session, name="李师傅", proof=PhoneProof.by_operator(HELPER_PHONE), password=DEMO_PASSWORD)
    truck = register_vehicle(
        session, vin=_helper_vin(session), model="HOWO TX 6x4 tractor", owner=helper, plate="豫B54321"
    )
    settings = network_settings(load_settings())
    request = assistance.request_assistance(
        session,
        helper.user,
        truck,
        shop.lat + 0.02,
        shop.lon,
        "爆胎，停在应急车道",
        [],
        load_shop_index(session),
        settings,
    )
    offer = session.scalar(
        select(AssistanceOffer).where(
            AssistanceOffer.request_id == request.id,
            AssistanceOffer.shop_id == shop.id,
            AssistanceOffer.status == OfferStatus.OFFERED,
        )
    )
    return isinstance(request, AssistanceRequest) and offer is not None


def _helper_vin(session: Session) -> str:
    rng = random.Random(HELPER_PHONE)
    while True:
        vin = make_vin(rng)
        if session.scalar(select(Vehicle.id).where(Vehicle.vin == vin)) is None:
            return vin
