"""Shrunk, decayed shop scores: the documented formula, the interval and the network percentile."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reviews.scoring import (
    RatedReview,
    decay_weight,
    network_priors,
    next_review_effect,
    percentile_from_counts,
    score_shop,
    shrunk_score,
)
from reviews.settings import DIMENSIONS

NOW = datetime(2026, 6, 1, tzinfo=UTC)
PRIORS = dict.fromkeys(DIMENSIONS, 4.0)


def review(stars: int, days_ago: float = 0, counts: bool = True, **dimensions: int) -> RatedReview:
    values = dict.fromkeys(DIMENSIONS, stars) | dimensions
    return RatedReview(values, NOW - timedelta(days=days_ago), counts)


def test_score_shop_without_reviews_is_the_prior():
    scores = score_shop([], PRIORS, NOW, prior_strength=5, half_life_days=365)

    assert scores["overall"].score == 4.0
    assert scores["overall"].count == 0


def test_score_shop_one_five_star_review_moves_by_documented_amount():
    scores = score_shop([review(5)], PRIORS, NOW, prior_strength=5, half_life_days=365)

    assert scores["overall"].score == pytest.approx(4.0 + (5 - 4.0) / 6)


def test_next_review_effect_matches_recomputed_score():
    existing = [review(3, 10), review(5, 40), review(4, 400)]
    before = score_shop(existing, PRIORS, NOW, 5, 365)["overall"]

    after = score_shop([*existing, review(1)], PRIORS, NOW, 5, 365)["overall"]

    assert after.score - before.score == pytest.approx(next_review_effect(before, 1, 5))


def test_score_shop_shrinks_few_ratings_toward_prior():
    one = score_shop([review(1)], PRIORS, NOW, 5, 365)["overall"].score
    many = score_shop([review(1)] * 50, PRIORS, NOW, 5, 365)["overall"].score

    assert one > 3.0
    assert many < 1.3


def test_score_shop_ignores_reviews_that_do_not_count():
    base = score_shop([review(4)], PRIORS, NOW, 5, 365)

    with_flagged = score_shop([review(4), review(5, counts=False), review(5, counts=False)], PRIORS, NOW, 5, 365)

    assert with_flagged["overall"].score == base["overall"].score
    assert with_flagged["overall"].count == 1


def test_decay_weight_halves_at_half_life():
    assert decay_weight(NOW - timedelta(days=365), NOW, 365) == pytest.approx(0.5)


def test_score_shop_old_reviews_weigh_less():
    recent_bad = score_shop([review(1, 1), review(5, 730)], PRIORS, NOW, 5, 365)["overall"].score
    recent_good = score_shop([review(5, 1), review(1, 730)], PRIORS, NOW, 5, 365)["overall"].score

    assert recent_good > recent_bad


def test_score_shop_interval_narrows_with_evidence():
    few = score_shop([review(4)] * 2, PRIORS, NOW, 5, 365)["overall"]
    many = score_shop([review(4)] * 200, PRIORS, NOW, 5, 365)["overall"]

    assert few.low < many.low <= many.score <= many.high < few.high


def test_score_shop_interval_stays_within_stars():
    score = score_shop([review(5)] * 3, PRIORS, NOW, 1, 365)["overall"]

    assert 1.0 <= score.low <= score.high <= 5.0


def test_score_shop_scores_dimensions_separately():
    scores = score_shop([review(5, price=1)] * 10, PRIORS, NOW, 5, 365)

    assert scores["quality"].score > 4.5
    assert scores["price"].score < 2.5


def test_network_priors_default_when_nothing_counts():
    assert network_priors([review(2, counts=False)], NOW, 365, 4.0) == PRIORS


def test_network_priors_weighted_mean():
    priors = network_priors([review(5), review(3)], NOW, 365, 4.0)

    assert priors["overall"] == pytest.approx(4.0)


@pytest.mark.parametrize(
    ("below", "equal", "total", "expected"),
    [(0, 0, 0, None), (1, 1, 3, 50.0), (2, 1, 3, 83.3), (0, 0, 2, 0.0), (2, 0, 2, 100.0)],
)
def test_percentile_from_counts_counts_ties_as_half(below, equal, total, expected):
    assert percentile_from_counts(below, equal, total) == expected


def test_shrunk_score_weight_excludes_prior():
    assert shrunk_score([(5, 1.0), (3, 0.5)], 4.0, 5).weight == pytest.approx(1.5)
