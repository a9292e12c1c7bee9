"""The evaluation adds reviews up in the database (issue 11 item 4): the same scores and priors as scoring each
shop's reviews one by one, on SQLite and on PostgreSQL."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import utcnow
from network.models import Shop
from reviews.models import Review, ReviewFollowUp, ShopScore
from reviews.ratings import rated, read_review_snapshot, read_review_sums, store_scores_from_snapshot
from reviews.scoring import network_priors, priors_from_sums, review_sums, score_from_sums, score_shop
from reviews.settings import DIMENSIONS, ReviewSettings
from tests.reviews.factories import make_shop, write_review

SETTINGS = ReviewSettings()


def varied_network(session, now):
    """Shops with no review, one review, many; old, recent and future reviews; flagged, hidden, follow-ups."""
    rng = random.Random(11)
    shops = [make_shop(session) for _ in range(5)]
    for shop, count in zip(shops, (0, 1, 4, 9, 14), strict=True):
        for index in range(count):
            stars = {dimension: rng.randint(1, 5) for dimension in DIMENSIONS}
            written = now - timedelta(days=rng.uniform(0, 700), seconds=rng.randint(0, 86_399))
            review = write_review(
                session, shop, now=written, completed_at=written - timedelta(hours=5), device=f"d{index}", **stars
            )
            review.created_at = written + timedelta(microseconds=rng.randint(0, 999_999))
    reviews = session.scalars(select(Review).order_by(Review.id)).all()
    reviews[1].created_at = now + timedelta(days=3)  # from the future: counts fully
    reviews[3].is_hidden = True
    reviews[5].is_flagged = True
    for review in reviews[6::4]:
        session.add(ReviewFollowUp(review_id=review.id, text="the part failed", overall=rng.choice((None, 1, 5))))
    session.flush()
    session.expire_all()
    return shops


def per_shop_scores(session, shop, priors, now):
    """The previous computation: every review of the shop as an object, scored in Python."""
    reviews = session.scalars(select(Review).where(Review.shop_id == shop.id)).all()
    return score_shop(
        [rated(review) for review in reviews], priors, now, SETTINGS.prior_strength, SETTINGS.half_life_days
    )


def assert_same_scores(summed, reference):
    for dimension in DIMENSIONS:
        assert summed[dimension].count == reference[dimension].count
        for figure in ("score", "low", "high", "weight"):
            assert getattr(summed[dimension], figure) == pytest.approx(getattr(reference[dimension], figure), abs=1e-9)


def test_the_database_sums_give_every_shop_the_scores_of_its_reviews_one_by_one(session):
    now = utcnow()
    shops = varied_network(session, now)
    sums = read_review_sums(session, now, SETTINGS.half_life_days)
    all_rated = [rated(review) for review in session.scalars(select(Review))]
    priors = priors_from_sums(sums.values(), SETTINGS.default_prior)
    reference_priors = network_priors(all_rated, now, SETTINGS.half_life_days, SETTINGS.default_prior)
    assert priors == pytest.approx(reference_priors, abs=1e-9)
    assert shops[0].id not in sums  # no reviews, no row
    for shop in shops[1:]:
        reviews = session.scalars(select(Review).where(Review.shop_id == shop.id)).all()
        assert sums[shop.id].newest == max(review.id for review in reviews)
        expected = review_sums([rated(review) for review in reviews], now, SETTINGS.half_life_days)
        assert sums[shop.id].counted == expected.counted
        assert sums[shop.id].weight == pytest.approx(expected.weight, abs=1e-9)
        assert_same_scores(
            score_from_sums(sums[shop.id], priors, SETTINGS.prior_strength), per_shop_scores(session, shop, priors, now)
        )


def test_stored_scores_and_ratings_match_the_per_shop_computation(session):
    now = utcnow()
    shops = varied_network(session, now)
    snapshot = read_review_snapshot(session, SETTINGS, now)
    priors = priors_from_sums(snapshot.values(), SETTINGS.default_prior)
    store_scores_from_snapshot(session, shops, snapshot, SETTINGS, priors, now)
    for shop in shops:
        reference = per_shop_scores(session, shop, priors, now)
        record = session.get(ShopScore, shop.id)
        assert record.review_count == reference["overall"].count
        assert record.overall == pytest.approx(reference["overall"].score, abs=1e-9)
        for dimension in DIMENSIONS:
            assert record.dimensions[dimension] == pytest.approx(reference[dimension].to_dict(), abs=1e-4)
        published = session.get(Shop, shop.id)
        assert published.rating_count == reference["overall"].count
        if reference["overall"].count:
            assert float(published.rating) == pytest.approx(reference["overall"].score, abs=0.005)
        else:
            assert published.rating is None
