"""Reviews demo data: a review history per shop (good, mediocre and a few bad shops), planted manipulation,
the legacy certification list, and (seed_certification, a step of its own) two evaluation runs so that the
board shows every tier.

Past services are history that network's booking service cannot create (it books future slots only), so the
completed bookings behind the reviews are written as records; reviews are built by `new_review` (what
`record_review` stores) and go through the
shop's reassessment and scoring like any other.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.models import Customer, Organization, Vehicle
from app.db import checkpoint_of, utcnow
from app.security import Role, User
from app.web.context import code_keyring
from network.demo import DEMO_SHOP
from network.models import Booking, BookingStatus, Shop
from reviews.certification import evaluate_certification, override_tier
from reviews.models import CertificationState, ShopAffiliation
from reviews.publishing import Stars, device_fingerprint, new_review, record_review
from reviews.ratings import daily_capacity, reassess_shop_reviews, refresh_shop_score
from reviews.settings import DEFAULT_THRESHOLDS, DIMENSIONS, ReviewSettings, parse_thresholds
from reviews.tiers import Tier

# Mean stars and reviews per shop for each kind of shop, and the share of shops of that kind.
PROFILES = {"good": (4.6, 24, 0.55), "mediocre": (3.7, 12, 0.33), "bad": (2.4, 10, 0.12)}
TEXTS = {
    5: ["换刹车片很快，价格透明，配件扫码是正品。", "凌晨两点换胎，价格公道。", "师傅很专业，推荐！"],
    4: ["服务不错，就是等了一会儿。", "活干得好，就是有点贵。", "配件正品，价格略高。"],
    3: ["一般，修好了但解释不清楚。", "还行，就是慢。", "价格偏高。"],
    2: ["等了三个小时。", "想卖给我用不着的配件。", "收费不透明。"],
    1: ["配件没有防伪码，怀疑是副厂件。", "乱收费，态度差。", "修完第二天又坏了。"],
}
# Services of the demo's historical bookings.
SERVICES = ("repair", "maintenance", "tyres")
LEGACY_REASON = "2025 年旧认证名单，迁入 Milepost"
UPGRADE_REASON = "regional manager's upgrade after a site visit, to be borne out by the KPIs"


def _stars(rng: random.Random, mean: float) -> Stars:
    overall = min(5, max(1, round(rng.gauss(mean, 0.7))))
    values = {name: min(5, max(1, round(rng.gauss(overall, 0.6)))) for name in DIMENSIONS}
    values["overall"] = overall
    return Stars(**values)


def _completed_booking(session: Session, shop: Shop, vehicle: Vehicle, when, service: str = "repair") -> Booking:
    booking = _booking(shop, vehicle, when, service)
    session.add(booking)
    session.flush()
    return booking


def _booking(shop: Shop, vehicle: Vehicle, when, service: str) -> Booking:
    return Booking(
        shop_id=shop.id,
        customer_id=vehicle.owner_id,
        vehicle_id=vehicle.id,
        service=service,
        start=when - timedelta(minutes=shop.slot_minutes),
        end=when,
        status=BookingStatus.COMPLETED,
        created_at=when - timedelta(days=1),
        confirmed_at=when - timedelta(hours=20),
        checked_in_at=when - timedelta(minutes=shop.slot_minutes),
        completed_at=when,
    )


def _review(session, rng, shop, vehicle, completed, written, stars, device=None):
    booking = _completed_booking(session, shop, vehicle, completed, rng.choice(SERVICES))
    text = rng.choice(TEXTS[stars.overall])
    return record_review(session, booking, None, stars, text, written, device_fingerprint(device))


def seed(session: Session, rng: random.Random, size: str, track: Callable[[Iterable, str], Iterable]) -> list[str]:
    """Add reviews, planted manipulation, legacy tiers and two evaluation runs; return notes to print."""
    shops = list(session.scalars(select(Shop).order_by(Shop.id)))
    vehicles = list(session.scalars(select(Vehicle).order_by(Vehicle.id)))
    oem = session.scalar(select(User).where(User.role == Role.OEM_ADMIN).order_by(User.id))
    if not shops or not vehicles or oem is None:
        return ["Reviews: no demo shops, vehicles or OEM user yet; reviews demo skipped"]
    settings = ReviewSettings()
    thresholds = parse_thresholds(DEFAULT_THRESHOLDS)
    ring = code_keyring()
    now = utcnow()
    scale = 1.0 if size == "full" else 0.9
    profile_of: dict[int, str] = {}
    for shop in track(shops, "Reviews"):
        kind = rng.choices(list(PROFILES), weights=[share for _mean, _count, share in PROFILES.values()])[0]
        if shop.code == DEMO_SHOP:
            # The shop the demo's staff account runs is where a new user walks the review story: an honest,
            # well-rated shop, never a planted manipulation case (whatever the seed draws).
            kind = "good"
        profile_of[shop.id] = kind
        mean, count, _share = PROFILES[kind]
        # A shop's history is written in two flushes (bookings, then reviews) rather than two per review: the
        # random draws are the same, in the same order, as for _review, and the data set is too.
        history = []
        for _ in range(max(0, round(rng.gauss(count * scale, count * scale / 3)))):
            completed = now - timedelta(days=rng.uniform(2, 170), hours=rng.uniform(0, 12))
            written = completed + timedelta(hours=rng.uniform(2, 240))
            vehicle, stars = rng.choice(vehicles), _stars(rng, mean)
            booking = _booking(shop, vehicle, completed, rng.choice(SERVICES))
            history.append((booking, stars, rng.choice(TEXTS[stars.overall]), min(written, now)))
        session.add_all(booking for booking, _stars_, _text, _written in history)
        session.flush()
        fingerprint = device_fingerprint(None)
        session.add_all(new_review(booking, None, *rest, fingerprint) for booking, *rest in history)
    session.flush()
    planted = _plant_manipulation(session, rng, shops, vehicles, profile_of, now)
    for shop in track(shops, "Scores"):
        reassess_shop_reviews(session, shop, settings)
        refresh_shop_score(session, shop, settings, now)
    _legacy_tiers(session, rng, track(shops, "Legacy tiers"), profile_of, oem, thresholds, ring, now)
    return [f"Reviews: {len(shops)} shops scored; planted manipulation at {', '.join(planted)}"]


def seed_certification(
    session: Session, rng: random.Random, size: str, track: Callable[[Iterable, str], Iterable]
) -> list[str]:
    """Run the two evaluations that move the legacy tiers by their KPIs (a week ago, then now); return a note.

    A step of its own after `seed`: the evaluations are the heaviest part of the reviews demo, and the worker
    builds the demo one step (one transaction) at a time."""
    if session.scalar(select(Shop.id).limit(1)) is None:
        return []
    settings = ReviewSettings()
    thresholds = parse_thresholds(DEFAULT_THRESHOLDS)
    ring = code_keyring()
    now = utcnow()
    # Each run in a transaction of its own in the worker's build: both in one held SQLite's write lock 6-8 s.
    checkpoint = checkpoint_of(track)
    evaluate_certification(session, None, thresholds, settings, ring, now - timedelta(days=7))
    checkpoint()
    _upgrade_by_hand(session, thresholds, ring, now - timedelta(days=3))
    checkpoint()
    run = evaluate_certification(session, None, thresholds, settings, ring, now)
    return [f"Certification: evaluation run {run.id} made {run.changes} tier changes, {run.pending} pending"]


def _upgrade_by_hand(session: Session, thresholds, ring, when, count: int = 3) -> None:
    """Have the OEM raise a few certified shops of middling rating to gold by hand between the two runs: the
    second run proposes to take them back down, which waits for confirmation (the board's pending changes)."""
    oem = session.scalar(select(User).where(User.role == Role.OEM_ADMIN).order_by(User.id))
    middling = session.scalars(
        select(Shop)
        .join(CertificationState, CertificationState.shop_id == Shop.id)
        .where(CertificationState.tier == Tier.CERTIFIED, Shop.code != DEMO_SHOP)
        .order_by(Shop.rating, Shop.id)
        .limit(count)
    )
    for shop in middling:
        override_tier(session, oem, shop, Tier.GOLD, UPGRADE_REASON, thresholds, ring, when)


def _plant_manipulation(session, rng, shops, vehicles, profile_of, now) -> list[str]:
    """Plant one case of each manipulation pattern at a different shop; return their codes."""
    targets = [shop for shop in shops if profile_of[shop.id] != "good" and shop.code != DEMO_SHOP][:5]
    if len(targets) < 5:
        return []
    cluster, bulk, fleet_shop, pair, burst = targets
    five = Stars(5, 5, 5, 5, 5)
    for index in range(4):
        moment = now - timedelta(days=3 + index)
        _review(session, rng, cluster, rng.choice(vehicles), moment - timedelta(hours=5), moment, five, "farm-device-1")
    for index in range(4):
        completed = now - timedelta(days=2, hours=index)
        _review(session, rng, bulk, rng.choice(vehicles), completed, completed + timedelta(minutes=3), five)
    fleet = session.scalar(select(Organization).where(Organization.kind == "fleet").order_by(Organization.id))
    fleet_vehicles = (
        session.scalars(select(Vehicle).join(Customer).where(Customer.fleet_id == fleet.id).limit(3)).all()
        if fleet
        else []
    )
    if fleet is not None:
        session.add(ShopAffiliation(shop_id=fleet_shop.id, organization_id=fleet.id, note="the fleet's own workshop"))
        for index, vehicle in enumerate(fleet_vehicles):
            moment = now - timedelta(days=10 + index * 5)
            _review(session, rng, fleet_shop, vehicle, moment - timedelta(hours=3), moment, five)
    for index in range(3):
        moment = now - timedelta(days=4 + index * 6)
        _review(session, rng, pair, vehicles[0], moment - timedelta(hours=2), moment, five)
    count = daily_capacity(burst) + 3
    for index in range(count):
        moment = now - timedelta(days=1, minutes=index * 20 * 60 // count)
        _review(session, rng, burst, rng.choice(vehicles), moment - timedelta(days=3), moment, five)
    return [cluster.code, bulk.code, fleet_shop.code, pair.code, burst.code]


def _legacy_tiers(session, rng, shops, profile_of, oem, thresholds, ring, now) -> None:
    """Start from the paper certification list the OEM had before Milepost: good and some bad shops certified."""
    for shop in shops:
        kind = profile_of[shop.id]
        roll = rng.random()
        # Most shops of a network the OEM has run for years hold a certificate; the evaluation then moves them by
        # their KPIs, one step per confirmed run (issue 10 row 28: the tiers should look like a real network).
        if kind == "good":
            tier = Tier.GOLD if roll < 0.2 else Tier.CERTIFIED if roll < 0.95 else Tier.CANDIDATE
        elif kind == "mediocre":
            tier = Tier.CERTIFIED if roll < 0.6 else Tier.CANDIDATE if roll < 0.9 else None
        else:
            tier = Tier.CERTIFIED if roll < 0.4 else Tier.WATCH if roll < 0.7 else Tier.PROBATION
        if tier is None:
            continue
        override_tier(session, oem, shop, tier, LEGACY_REASON, thresholds, ring, now - timedelta(days=90))
        if tier == Tier.PROBATION:
            state = session.get(CertificationState, shop.id)
            # Half of the legacy probations ran out while the paper process stalled: evaluation revokes them.
            if rng.random() < 0.5:
                state.cure_deadline = now - timedelta(days=rng.randint(1, 20))
    session.flush()
