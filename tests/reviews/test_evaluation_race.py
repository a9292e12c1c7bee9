"""Issue 10 row 23: a review published while an evaluation runs keeps its effect on the shop's score."""

from __future__ import annotations

from app.db import make_sessionmaker, utcnow
from network.models import Shop
from reviews.models import ShopScore
from reviews.ratings import current_priors, read_review_snapshot, store_scores_from_snapshot
from reviews.settings import ReviewSettings
from tests.network.factories import make_shop
from tests.reviews.factories import write_review

SETTINGS = ReviewSettings()


def test_a_review_published_during_an_evaluation_is_not_overwritten_by_its_snapshot(committed_engine):
    maker = make_sessionmaker(committed_engine)
    with maker() as setup:
        shop_id = make_shop(setup).id
        write_review(setup, setup.get(Shop, shop_id), 5)
        setup.commit()

    with maker() as evaluation, maker() as publisher:
        snapshot = read_review_snapshot(evaluation, SETTINGS, utcnow())  # the run reads every review first...
        priors = current_priors(evaluation, SETTINGS)
        evaluation.commit()
        write_review(publisher, publisher.get(Shop, shop_id), 1)  # ...a driver publishes meanwhile...
        publisher.commit()
        store_scores_from_snapshot(  # ...then the run stores its scores
            evaluation, [evaluation.get(Shop, shop_id)], snapshot, SETTINGS, priors, utcnow()
        )
        evaluation.commit()

    with maker() as check:
        assert check.get(ShopScore, shop_id).review_count == 2
        assert check.get(Shop, shop_id).rating_count == 2
