"""The reviews demo seed: realistic reviews, every planted pattern flagged, every tier on the board."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import func, select

from app.security import Role
from network.demo import DEMO_SHOP
from reviews import demo
from reviews.models import CertificationState, Review, ReviewFlag
from tests.factories import make_customer, make_organization, make_user, make_vehicle
from tests.reviews.factories import make_shop


def test_seed_plants_manipulation_and_shows_tiers(app, session):
    rng = random.Random(7)
    shops = [make_shop(session) for _ in range(40)]
    make_user(session, Role.OEM_ADMIN)
    fleet = make_organization(session, kind="fleet")
    for index in range(60):
        make_vehicle(session, owner=make_customer(session, fleet_id=fleet.id if index % 5 == 0 else None))

    with app.app_context():
        notes = demo.seed(session, rng, "small", lambda items, _label: items)
        demo.seed_certification(session, rng, "small", lambda items, _label: items)

    reasons = set(session.scalars(select(ReviewFlag.reason).distinct()))
    tiers = set(session.scalars(select(CertificationState.tier).distinct()))
    assert "planted manipulation at" in notes[0]
    assert session.scalar(select(func.count()).select_from(Review)) > 200
    assert reasons == {"account_cluster", "bulk_instant", "affiliated", "pair_cap", "bay_burst"}
    assert {"gold", "certified", "watch", "suspended", "revoked"} <= tiers
    assert len(shops) == 40


def test_seed_without_shops_is_skipped(app, session):
    with app.app_context():
        notes = demo.seed(session, random.Random(1), "small", lambda items, _label: items)

    assert "skipped" in notes[0]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_seed_keeps_the_demo_staff_shop_honest(app, session, seed):
    featured = make_shop(session, code=DEMO_SHOP)
    for _ in range(12):
        make_shop(session)
    make_user(session, Role.OEM_ADMIN)
    for _ in range(30):
        make_vehicle(session, owner=make_customer(session))

    with app.app_context():
        notes = demo.seed(session, random.Random(seed), "small", lambda items, _label: items)

    # With few drivers a random history can repeat a driver at a shop (pair_cap); no planted pattern may land.
    reasons = set(session.scalars(select(ReviewFlag.reason).join(Review).where(Review.shop_id == featured.id)))
    assert DEMO_SHOP not in notes[0]
    assert reasons <= {"pair_cap"}
    assert session.get(CertificationState, featured.id).tier not in ("suspended", "revoked", "probation")


def test_the_demo_networks_tiers_look_like_a_real_network(demo_database):
    # Issue 10 row 28: most shops certified, a few gold, some on watch, a handful on probation or suspended.
    from collections import Counter

    from sqlalchemy.orm import Session

    from app.db import make_engine

    engine = make_engine(demo_database.url)
    with Session(engine) as session:
        tiers = Counter(session.scalars(select(CertificationState.tier)))
    engine.dispose()
    total = sum(tiers.values())

    assert tiers["certified"] + tiers["gold"] > total / 2
    assert 0 < tiers["gold"] < tiers["certified"]
    assert 0 < tiers["watch"] < total / 4
    assert 0 < tiers["probation"] + tiers["suspended"] < total / 10
