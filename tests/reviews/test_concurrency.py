"""Simultaneous review submissions on a real database: one review per booking, every shop review counted."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.db import make_sessionmaker, utcnow
from app.security import User
from network.models import Shop
from reviews.models import Review
from reviews.publishing import Stars, publish_review
from reviews.settings import ReviewSettings
from tests.factories import make_driver
from tests.races import race
from tests.reviews.factories import make_booking, make_shop

pytestmark = pytest.mark.slow


def run_together(sessions, submissions: list[tuple[int, int]]) -> list[str]:
    """Publish (user id, booking id) reviews from parallel sessions released at once; return each outcome."""

    def prepare(session, user_id: int, booking_id: int):
        actor = session.get(User, user_id)
        return lambda: publish_review(session, actor, booking_id, Stars(4, 4, 4, 4, 4), "", ReviewSettings(), utcnow())

    return race(sessions, prepare, submissions)


def test_publish_review_concurrently_once(committed_engine):
    sessions = make_sessionmaker(committed_engine)
    with sessions() as setup:
        user, customer = make_driver(setup)
        booking_id = make_booking(setup, make_shop(setup), customer).id
        user_id = user.id
        setup.commit()

    outcomes = run_together(sessions, [(user_id, booking_id)] * 8)

    with sessions() as check:
        assert check.scalar(select(func.count()).select_from(Review).where(Review.booking_id == booking_id)) == 1
    assert sorted(outcomes) == ["conflict"] * 7 + ["ok"]


def test_publish_reviews_of_one_shop_concurrently_all_count(committed_engine):
    sessions = make_sessionmaker(committed_engine)
    with sessions() as setup:
        shop = make_shop(setup)
        shop_id = shop.id
        submissions = []
        for _ in range(6):
            user, customer = make_driver(setup)
            submissions.append((user.id, make_booking(setup, shop, customer).id))
        setup.commit()

    outcomes = run_together(sessions, submissions)

    with sessions() as check:
        assert outcomes == ["ok"] * 6
        assert check.get(Shop, shop_id).rating_count == 6
