"""A shop's public standing, written down through network (which keeps its search index in step)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy.orm import Session

from network.models import Shop
from network.shops import publish_standing, publish_standings


def publish_rating(session: Session, shop: Shop, rating: Decimal | None, count: int) -> None:
    """Publish the shrunk rating and its review count; the tier stays as it is."""
    publish_standing(session, shop, rating, count, shop.certification_tier)


def publish_tier(session: Session, shop: Shop, tier: str) -> None:
    """Publish the certification tier (`none` when not certified); the rating stays as it is."""
    publish_standing(session, shop, shop.rating, shop.rating_count, tier)


def publish_ratings(session: Session, ratings: Iterable[tuple[Shop, Decimal | None, int]]) -> int:
    """Publish many shops' ratings and counts at once (one index stamp); return how many changed."""
    return publish_standings(
        session, ((shop, rating, count, shop.certification_tier) for shop, rating, count in ratings)
    )


def publish_tiers(session: Session, tiers: Iterable[tuple[Shop, str]]) -> int:
    """Publish many shops' tiers at once (one index stamp); return how many changed."""
    return publish_standings(session, ((shop, shop.rating, shop.rating_count, tier) for shop, tier in tiers))
