"""Stored scores: re-running the manipulation rules for a shop, scoring it, and writing the rating into network."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from app.crm.models import Customer
from network.hours import longest_day_minutes
from network.models import Shop
from reviews.integrity import SHOP_MANIPULATION, IntegrityRules, ReviewFacts, ShopFacts, detect_manipulation
from reviews.models import EvaluationRun, Review, ReviewFlag, ShopAffiliation, ShopScore
from reviews.scoring import DimensionScore, RatedReview, network_priors, percentile_from_counts, score_shop
from reviews.settings import DIMENSIONS, ReviewSettings
from reviews.standing import publish_rating


def integrity_rules(settings: ReviewSettings) -> IntegrityRules:
    """Return the manipulation rules tuned by the settings."""
    return IntegrityRules(
        pair_cap_per_month=settings.pair_cap_per_month,
        burst_window_hours=settings.burst_window_hours,
        cluster_min_accounts=settings.cluster_min_accounts,
        bulk_minutes=settings.bulk_minutes,
        bulk_min_count=settings.bulk_min_count,
    )


def daily_capacity(shop: Shop) -> int:
    """Return how many services the shop's bays can complete on its longest day (bays x slots)."""
    # Hours as network reads them (24:00 closes at midnight); not recorded: assume a 12-hour day rather than
    # flag every review.
    open_minutes = longest_day_minutes(shop.opening_hours or {}, shop.open_24h) or 12 * 60
    return max(1, shop.bays * open_minutes // max(5, shop.slot_minutes))


def shop_facts(session: Session, shop: Shop) -> ShopFacts:
    """Return what the manipulation rules need to know about a shop."""
    affiliated = set(session.scalars(select(ShopAffiliation.organization_id).where(ShopAffiliation.shop_id == shop.id)))
    affiliated.add(shop.organization_id)
    return ShopFacts(daily_capacity(shop), frozenset(affiliated), shop.phone or None)


def review_facts(review: Review) -> ReviewFacts:
    """Return what the manipulation rules need to know about a review."""
    customer: Customer = review.customer
    organizations = {customer.fleet_id, review.booking.vehicle.fleet_id} - {None}
    return ReviewFacts(
        review_id=review.id,
        customer_id=review.customer_id,
        created_at=review.created_at,
        completed_at=review.completed_at,
        fingerprint=review.fingerprint,
        customer_organization_ids=frozenset(organizations),
        customer_phone=customer.phone,
    )


def lock_shop(session: Session, shop: Shop) -> None:
    """Hold the shop's row until commit, so one shop's reassessment and scoring never run twice at once.

    Two reviews of one shop committed simultaneously would otherwise both insert its first score row, or each
    run the manipulation rules without seeing the other. SQLite's BEGIN IMMEDIATE serializes writers already.
    """
    # FOR NO KEY UPDATE: compatible with the key-share locks that inserting a review (a foreign key) takes.
    session.execute(select(Shop.id).where(Shop.id == shop.id).with_for_update(key_share=True))


def reassess_shop_reviews(session: Session, shop: Shop, settings: ReviewSettings) -> int:
    """Run the manipulation rules over all of a shop's reviews, record new flags; return how many were added."""
    lock_shop(session, shop)
    reviews = session.scalars(
        select(Review)
        .where(Review.shop_id == shop.id)
        .options(selectinload(Review.flags), selectinload(Review.customer), selectinload(Review.booking))
    ).all()
    by_id = {review.id: review for review in reviews}
    added = 0
    for flag in detect_manipulation(
        [review_facts(review) for review in reviews], shop_facts(session, shop), integrity_rules(settings)
    ):
        review = by_id[flag.review_id]
        if any(existing.reason == flag.reason for existing in review.flags):
            continue
        review.flags.append(ReviewFlag(reason=flag.reason, detail=flag.detail))
        review.is_flagged = True
        added += 1
    session.flush()
    return added


def rated(review: Review) -> RatedReview:
    """Return the review as scoring sees it: a follow-up's overall stars replace the original ones."""
    stars = {dimension: getattr(review, dimension) for dimension in DIMENSIONS}
    if review.follow_up is not None and review.follow_up.overall is not None:
        stars["overall"] = review.follow_up.overall
    return RatedReview(stars, review.created_at, review.counts)


def current_priors(session: Session, settings: ReviewSettings) -> dict[str, float]:
    """Return the network prior of the latest evaluation run (the configured default before the first one).

    The prior changes only when an evaluation runs, so a single new review moves a shop's score by exactly
    the documented amount instead of also nudging the prior of every shop.
    """
    priors = session.scalar(select(EvaluationRun.priors).order_by(EvaluationRun.id.desc()).limit(1))
    return priors or dict.fromkeys(DIMENSIONS, settings.default_prior)


def compute_network_priors(session: Session, settings: ReviewSettings, now: datetime) -> dict[str, float]:
    """Return the network's current time-decayed mean per dimension over every review that counts."""
    reviews = session.scalars(
        select(Review)
        .where(Review.is_flagged.is_(False), Review.is_hidden.is_(False))
        .options(selectinload(Review.follow_up))
    )
    return network_priors((rated(review) for review in reviews), now, settings.half_life_days, settings.default_prior)


def store_shop_score(
    session: Session, shop: Shop, scores: dict[str, DimensionScore], priors: dict[str, float], now: datetime
) -> ShopScore:
    """Store a shop's scores and write the rating and its count into network's shop row."""
    overall = scores["overall"]
    record = session.get(ShopScore, shop.id)
    if record is None:
        record = ShopScore(shop_id=shop.id)
        session.add(record)
    record.overall = overall.score
    record.review_count = overall.count
    record.dimensions = {dimension: score.to_dict() for dimension, score in scores.items()}
    record.priors = dict(priors)
    record.computed_at = now
    publish_rating(session, shop, Decimal(f"{overall.score:.2f}") if overall.count else None, overall.count)
    return record


def live_scores(
    session: Session, shop: Shop, settings: ReviewSettings, now: datetime, priors: dict[str, float] | None = None
) -> tuple[dict[str, DimensionScore], dict[str, float]]:
    """Score one shop from its reviews as of `now` (nothing stored); return the scores and the priors used."""
    priors = priors or current_priors(session, settings)
    reviews = session.scalars(select(Review).where(Review.shop_id == shop.id).options(selectinload(Review.follow_up)))
    rated_reviews = [rated(review) for review in reviews]
    return score_shop(rated_reviews, priors, now, settings.prior_strength, settings.half_life_days), priors


def refresh_shop_score(
    session: Session, shop: Shop, settings: ReviewSettings, now: datetime, priors: dict[str, float] | None = None
) -> ShopScore:
    """Recompute one shop's scores from its reviews and store them."""
    lock_shop(session, shop)
    scores, priors = live_scores(session, shop, settings, now, priors)
    record = store_shop_score(session, shop, scores, priors, now)
    session.flush()
    return record


def read_review_snapshot(session: Session) -> tuple[dict[int, list[RatedReview]], dict[int, int]]:
    """Read every review once: the rated reviews per shop, and the newest review id seen per shop."""
    by_shop: dict[int, list[RatedReview]] = defaultdict(list)
    latest: dict[int, int] = {}
    for review in session.scalars(select(Review).options(selectinload(Review.follow_up))):
        by_shop[review.shop_id].append(rated(review))
        latest[review.shop_id] = max(latest.get(review.shop_id, 0), review.id)
    return by_shop, latest


def store_scores_from_snapshot(
    session: Session,
    shops: Iterable[Shop],
    snapshot: tuple[dict[int, list[RatedReview]], dict[int, int]],
    settings: ReviewSettings,
    priors: dict[str, float],
    now: datetime,
) -> dict[int, ShopScore]:
    """Score and store every given shop from the snapshot, re-reading a shop that got a review since.

    A review published while an evaluation runs has already refreshed its shop's score; storing the run's
    older snapshot over it would lose that review until the next run. Holding the shop's row (the lock
    publishing takes) and comparing its newest review id with the snapshot's makes the check and the store one
    step against any publication.
    """
    by_shop, latest = snapshot
    records = {}
    for shop in shops:
        lock_shop(session, shop)
        newest = session.scalar(select(func.max(Review.id)).where(Review.shop_id == shop.id)) or 0
        if newest != latest.get(shop.id, 0):
            reviews = session.scalars(
                select(Review)
                .where(Review.shop_id == shop.id)
                .options(selectinload(Review.follow_up))
                .execution_options(populate_existing=True)
            )
            rated_reviews = [rated(review) for review in reviews]
        else:
            rated_reviews = by_shop.get(shop.id, [])
        scores = score_shop(rated_reviews, priors, now, settings.prior_strength, settings.half_life_days)
        records[shop.id] = store_shop_score(session, shop, scores, priors, now)
    session.flush()
    return records


def refresh_all_scores(
    session: Session, shops: Iterable[Shop], settings: ReviewSettings, priors: dict[str, float], now: datetime
) -> dict[int, ShopScore]:
    """Recompute every given shop's scores with one query for all reviews."""
    return store_scores_from_snapshot(session, shops, read_review_snapshot(session), settings, priors, now)


def network_percentile(session: Session, score: float) -> float | None:
    """Return the share (0-100) of scored shops below `score`, ties counting half; None while none is scored."""
    scored = select(ShopScore.overall).where(ShopScore.review_count > 0).subquery()
    # Compare with a tolerance: stored floats of equal scores may differ in the last bits.
    below, equal, total = session.execute(
        select(
            func.count().filter(scored.c.overall < score - 1e-9),
            func.count().filter(scored.c.overall.between(score - 1e-9, score + 1e-9)),
            func.count(),
        ).select_from(scored)
    ).one()
    return percentile_from_counts(below, equal, total)


def score_summary(session: Session, shop: Shop, settings: ReviewSettings, now: datetime) -> dict:
    """Return a shop's scores as of now: per dimension score, interval, count, weight; the network percentile.

    Computed live (decay moves with time), so a review changes it by exactly the documented amount.
    """
    scores, priors = live_scores(session, shop, settings, now)
    overall = scores["overall"]
    return {
        "shop": shop.code,
        "overall": overall.to_dict(),
        "dimensions": {name: score.to_dict() for name, score in scores.items() if name != "overall"},
        "review_count": overall.count,
        "network_percentile": network_percentile(session, overall.score) if overall.count else None,
        "prior": priors,
        "prior_strength": settings.prior_strength,
        "half_life_days": settings.half_life_days,
        "computed_at": now.isoformat(),
    }


def recent_flag_counts(session: Session, since: datetime) -> dict[int, int]:
    """Return, per shop, how many reviews written since `since` carry a shop-manipulation flag."""
    rows = session.execute(
        select(Review.shop_id, func.count(func.distinct(Review.id)))
        .join(ReviewFlag, ReviewFlag.review_id == Review.id)
        .where(ReviewFlag.reason.in_([str(reason) for reason in SHOP_MANIPULATION]), Review.created_at >= since)
        .group_by(Review.shop_id)
    )
    return dict(rows.all())
