"""Shop scores: time-decayed Bayesian means shrunk toward the network prior, with an interval and a percentile.

For one dimension, with the network prior mean `mu`, prior strength `m` (pseudo-reviews) and reviews `x_i`
whose weights are `w_i = integrity_i * 0.5 ** (age_days_i / half_life_days)` (integrity is 0 for flagged or
hidden reviews, else 1):

    score    = (m * mu + sum(w_i * x_i)) / (m + sum(w_i))
    variance = (m * s0^2 + sum(w_i * (x_i - score)^2)) / (m + sum(w_i))    s0 = PRIOR_SPREAD stars
    interval = score -/+ 1.96 * sqrt(variance / (m + sum(w_i)))            clipped to 1..5

So a brand-new review with `x` stars moves a shop's score by exactly `(x - score) / (m + sum(w_i) + 1)`: with
the default m = 5 and no reviews yet, a 5-star review lifts a 4.0 prior to 4.1667.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from reviews.settings import DIMENSIONS

# Spread (standard deviation, in stars) assumed for the prior's pseudo-reviews: typical of 1-5 star ratings.
PRIOR_SPREAD = 1.0
Z_95 = 1.96


@dataclass(frozen=True)
class RatedReview:
    """What scoring needs of one review: its stars per dimension, when it was written, and whether it counts."""

    stars: Mapping[str, int]
    created_at: datetime
    counts: bool = True


@dataclass(frozen=True)
class DimensionScore:
    """One published score: shrunk mean, its 95% interval, and how much evidence it rests on."""

    score: float
    low: float
    high: float
    count: int
    weight: float

    def to_dict(self) -> dict:
        """Return the score rounded for display and storage."""
        return {
            "score": round(self.score, 4),
            "low": round(self.low, 4),
            "high": round(self.high, 4),
            "count": self.count,
            "weight": round(self.weight, 4),
        }


def decay_weight(created_at: datetime, now: datetime, half_life_days: float) -> float:
    """Return 0.5 ** (age in days / half-life); reviews from the future count fully."""
    age_days = max(0.0, (now - created_at).total_seconds() / 86400)
    return 0.5 ** (age_days / half_life_days)


def shrunk_score(
    values: Sequence[tuple[float, float]], prior: float, prior_strength: float, count: int | None = None
) -> DimensionScore:
    """Return the shrunk mean and interval of (stars, weight) pairs toward `prior` with `prior_strength`."""
    total_weight = prior_strength + sum(weight for _, weight in values)
    score = (prior_strength * prior + sum(stars * weight for stars, weight in values)) / total_weight
    spread = prior_strength * PRIOR_SPREAD**2 + sum(weight * (stars - score) ** 2 for stars, weight in values)
    half_width = Z_95 * math.sqrt(spread / total_weight / total_weight)
    return DimensionScore(
        score=score,
        low=max(1.0, score - half_width),
        high=min(5.0, score + half_width),
        count=len([weight for _, weight in values if weight > 0]) if count is None else count,
        weight=total_weight - prior_strength,
    )


def score_shop(
    reviews: Iterable[RatedReview],
    priors: Mapping[str, float],
    now: datetime,
    prior_strength: float,
    half_life_days: float,
) -> dict[str, DimensionScore]:
    """Score one shop in every dimension from its reviews (those that do not count get weight zero)."""
    weighted = [
        (review, decay_weight(review.created_at, now, half_life_days) if review.counts else 0.0) for review in reviews
    ]
    counted = sum(1 for review, _ in weighted if review.counts)
    return {
        dimension: shrunk_score(
            [(review.stars[dimension], weight) for review, weight in weighted],
            priors[dimension],
            prior_strength,
            count=counted,
        )
        for dimension in DIMENSIONS
    }


@dataclass(frozen=True)
class ReviewSums:
    """One shop's reviews reduced to what scoring needs: the decayed weights' sum, per dimension the weighted
    sums of stars and of squared stars, how many reviews count, and the newest review's id.

    The shrunk score and its interval are functions of these sums alone (the variance expanded as
    `sum(w x^2) - 2 score sum(w x) + score^2 sum(w)`), so the database can add them up over a million reviews
    and return one row per shop.
    """

    weight: float
    stars: Mapping[str, float]
    squares: Mapping[str, float]
    counted: int
    newest: int = 0


def review_sums(reviews: Iterable[RatedReview], now: datetime, half_life_days: float, newest: int = 0) -> ReviewSums:
    """Return the sums of one shop's reviews (the reference for the sums the database adds up)."""
    weight, counted = 0.0, 0
    stars = dict.fromkeys(DIMENSIONS, 0.0)
    squares = dict.fromkeys(DIMENSIONS, 0.0)
    for review in reviews:
        if not review.counts:
            continue
        counted += 1
        decay = decay_weight(review.created_at, now, half_life_days)
        weight += decay
        for dimension in DIMENSIONS:
            value = review.stars[dimension]
            stars[dimension] += decay * value
            squares[dimension] += decay * value * value
    return ReviewSums(weight, stars, squares, counted, newest)


def score_from_sums(sums: ReviewSums, priors: Mapping[str, float], prior_strength: float) -> dict[str, DimensionScore]:
    """Score one shop in every dimension from its review sums: the same figures as `score_shop`."""
    total_weight = prior_strength + sums.weight
    scores = {}
    for dimension in DIMENSIONS:
        stars, squares = sums.stars[dimension], sums.squares[dimension]
        score = (prior_strength * priors[dimension] + stars) / total_weight
        spread = prior_strength * PRIOR_SPREAD**2 + max(0.0, squares - 2 * score * stars + score * score * sums.weight)
        half_width = Z_95 * math.sqrt(spread / total_weight / total_weight)
        scores[dimension] = DimensionScore(
            score=score,
            low=max(1.0, score - half_width),
            high=min(5.0, score + half_width),
            count=sums.counted,
            weight=total_weight - prior_strength,
        )
    return scores


def priors_from_sums(sums: Iterable[ReviewSums], default_prior: float) -> dict[str, float]:
    """Return the network's time-decayed mean per dimension from every shop's sums (default when none count)."""
    total = 0.0
    stars = dict.fromkeys(DIMENSIONS, 0.0)
    for shop in sums:
        total += shop.weight
        for dimension in DIMENSIONS:
            stars[dimension] += shop.stars[dimension]
    if total <= 0:
        return dict.fromkeys(DIMENSIONS, default_prior)
    return {dimension: stars[dimension] / total for dimension in DIMENSIONS}


def network_priors(
    reviews: Iterable[RatedReview], now: datetime, half_life_days: float, default_prior: float
) -> dict[str, float]:
    """Return the network's time-decayed mean per dimension over the reviews that count (default when none)."""
    sums = dict.fromkeys(DIMENSIONS, 0.0)
    total = 0.0
    for review in reviews:
        if not review.counts:
            continue
        weight = decay_weight(review.created_at, now, half_life_days)
        total += weight
        for dimension in DIMENSIONS:
            sums[dimension] += weight * review.stars[dimension]
    if total <= 0:
        return dict.fromkeys(DIMENSIONS, default_prior)
    return {dimension: sums[dimension] / total for dimension in DIMENSIONS}


def percentile_from_counts(below: int, equal: int, total: int) -> float | None:
    """Return the network percentile: the share (0-100) of shops below, counting ties as half; None when empty."""
    if not total:
        return None
    return round(100.0 * (below + 0.5 * equal) / total, 1)


def next_review_effect(score: DimensionScore, stars: int, prior_strength: float) -> float:
    """Return how much one new review of `stars`, written now, moves `score` (the documented amount)."""
    return (stars - score.score) / (prior_strength + score.weight + 1)
