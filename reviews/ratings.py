"""Stored scores: re-running the manipulation rules for a shop, scoring it, and writing the rating into network."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, func, insert, literal, select, update
from sqlalchemy.orm import Session, selectinload

from app.crm.models import Customer
from app.db import UTCDateTime, is_postgresql
from network.hours import longest_day_minutes
from network.models import Shop
from reviews.integrity import SHOP_MANIPULATION, IntegrityRules, ReviewFacts, ShopFacts, detect_manipulation
from reviews.models import EvaluationRun, Review, ReviewFlag, ReviewFollowUp, ShopAffiliation, ShopScore
from reviews.scoring import (
    DimensionScore,
    RatedReview,
    ReviewSums,
    percentile_from_counts,
    score_from_sums,
    score_shop,
)
from reviews.settings import DIMENSIONS, ReviewSettings
from reviews.standing import publish_rating, publish_ratings

# Shops per statement when the evaluation locks, counts or loads rows by shop id (well under SQLite's limit of
# bound parameters).
CHUNK = 2_000
NO_REVIEWS = ReviewSums(0.0, dict.fromkeys(DIMENSIONS, 0.0), dict.fromkeys(DIMENSIONS, 0.0), 0)


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


def _score_values(scores: dict[str, DimensionScore], priors: dict[str, float], now: datetime) -> dict:
    """Return a shop's score row's columns (without the shop id)."""
    overall = scores["overall"]
    return {
        "overall": overall.score,
        "review_count": overall.count,
        "dimensions": {dimension: score.to_dict() for dimension, score in scores.items()},
        "priors": dict(priors),
        "computed_at": now,
    }


def _published_rating(score: DimensionScore) -> Decimal | None:
    """Return the rating the shop row shows: the overall score to two places, none without reviews."""
    return Decimal(f"{score.score:.2f}") if score.count else None


def store_shop_score(
    session: Session, shop: Shop, scores: dict[str, DimensionScore], priors: dict[str, float], now: datetime
) -> ShopScore:
    """Store a shop's scores and write the rating and its count into network's shop row."""
    record = session.get(ShopScore, shop.id)
    if record is None:
        record = ShopScore(shop_id=shop.id)
        session.add(record)
    for name, value in _score_values(scores, priors, now).items():
        setattr(record, name, value)
    publish_rating(session, shop, _published_rating(scores["overall"]), scores["overall"].count)
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


def _age_days(session: Session, column: Any, now: datetime) -> Any:
    """Return the SQL for the days from `column` to `now` (a float; negative for the future)."""
    moment = literal(now, UTCDateTime())
    if is_postgresql(session):
        return func.date_part("epoch", moment - column) / 86400.0
    return func.julianday(moment) - func.julianday(column)


def read_review_sums(
    session: Session, now: datetime, half_life_days: float, shop_ids: Sequence[int] | None = None
) -> dict[int, ReviewSums]:
    """Add up every review (or those of `shop_ids`) per shop in the database: one row per shop comes back.

    The weights are `decay_weight`'s in SQL (flagged and hidden reviews weigh zero); a follow-up's overall
    stars replace the review's. Both databases compute it (PostgreSQL's date_part, SQLite's julianday).
    """
    age = _age_days(session, Review.created_at, now)
    counts = and_(Review.is_flagged.is_(False), Review.is_hidden.is_(False))
    decay = func.power(0.5, case((age > 0, age), else_=0.0) / float(half_life_days))
    stars = {dimension: getattr(Review, dimension) for dimension in DIMENSIONS}
    stars["overall"] = func.coalesce(ReviewFollowUp.overall, Review.overall)
    rows = select(
        Review.shop_id,
        Review.id,
        case((counts, 1), else_=0).label("counted"),
        case((counts, decay), else_=0.0).label("weight"),
        *(value.label(dimension) for dimension, value in stars.items()),
    ).outerjoin(ReviewFollowUp, ReviewFollowUp.review_id == Review.id)
    if shop_ids is not None:
        rows = rows.where(Review.shop_id.in_(list(shop_ids)))
    rows = rows.subquery()
    weight = rows.c.weight
    statement = select(
        rows.c.shop_id,
        func.max(rows.c.id),
        func.sum(rows.c.counted),
        func.sum(weight),
        *(func.sum(weight * rows.c[dimension]) for dimension in DIMENSIONS),
        *(func.sum(weight * rows.c[dimension] * rows.c[dimension]) for dimension in DIMENSIONS),
    ).group_by(rows.c.shop_id)
    width = len(DIMENSIONS)
    sums = {}
    for shop_id, newest, counted, total, *values in session.execute(statement):
        sums[shop_id] = ReviewSums(
            float(total or 0.0),
            {dimension: float(values[index] or 0.0) for index, dimension in enumerate(DIMENSIONS)},
            {dimension: float(values[width + index] or 0.0) for index, dimension in enumerate(DIMENSIONS)},
            int(counted or 0),
            int(newest),
        )
    return sums


def read_review_snapshot(session: Session, settings: ReviewSettings, now: datetime) -> dict[int, ReviewSums]:
    """Read every review once, added up per shop as of `now` (with the newest review id seen per shop)."""
    return read_review_sums(session, now, settings.half_life_days)


def _chunks(values: Sequence[int], size: int = CHUNK) -> Iterator[Sequence[int]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def store_scores_from_snapshot(
    session: Session,
    shops: Iterable[Shop],
    snapshot: dict[int, ReviewSums],
    settings: ReviewSettings,
    priors: dict[str, float],
    now: datetime,
) -> dict[int, tuple[float, int]]:
    """Score and store every given shop from the snapshot, re-reading a shop that got a review since; return
    each shop's overall score and review count.

    A review published while an evaluation runs has already refreshed its shop's score; storing the run's
    older snapshot over it would lose that review until the next run. Holding the shops' rows (the lock
    publishing takes, in id order, a chunk at a time) and then comparing their newest review ids with the
    snapshot's makes the check and the store one step against any publication.
    """
    shops = list(shops)
    ids = [shop.id for shop in shops]
    newest: dict[int, int] = {}
    for chunk in _chunks(ids):
        session.execute(
            select(Shop.id).where(Shop.id.in_(chunk)).order_by(Shop.id).with_for_update(key_share=True)
        ).all()
    for chunk in _chunks(ids):
        newest.update(
            session.execute(
                select(Review.shop_id, func.max(Review.id)).where(Review.shop_id.in_(chunk)).group_by(Review.shop_id)
            ).all()
        )
    changed = [shop_id for shop_id in ids if newest.get(shop_id, 0) != getattr(snapshot.get(shop_id), "newest", 0)]
    if changed:
        snapshot = dict(snapshot)
        for chunk in _chunks(changed):
            fresh = read_review_sums(session, now, settings.half_life_days, chunk)
            snapshot.update({shop_id: fresh.get(shop_id, NO_REVIEWS) for shop_id in chunk})
    existing: set[int] = set()
    for chunk in _chunks(ids):
        existing.update(session.scalars(select(ShopScore.shop_id).where(ShopScore.shop_id.in_(chunk))))
    figures, ratings, new_rows, changed_rows = {}, [], [], []
    for shop in shops:
        scores = score_from_sums(snapshot.get(shop.id, NO_REVIEWS), priors, settings.prior_strength)
        overall = scores["overall"]
        values = {"shop_id": shop.id, **_score_values(scores, priors, now)}
        (changed_rows if shop.id in existing else new_rows).append(values)
        ratings.append((shop, _published_rating(overall), overall.count))
        figures[shop.id] = (overall.score, overall.count)
    # Straight to the table by primary key (the unit of work's bookkeeping per object would cost more than the
    # statements); score objects this session loaded before are read again when next used.
    for record in [row for row in session.identity_map.values() if isinstance(row, ShopScore)]:
        session.expire(record)
    if new_rows:
        session.execute(insert(ShopScore), new_rows)
    if changed_rows:
        session.execute(update(ShopScore), changed_rows)
    publish_ratings(session, ratings)
    session.flush()
    return figures


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
