"""A shop's public standing, written down through network (which keeps its search index in step)."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy.orm import Session

from network.models import Shop
from network.shops import publish_standing


def publish_rating(session: Session, shop: Shop, rating: Decimal | None, count: int) -> None:
    """Publish the shrunk rating and its review count; the tier stays as it is."""
    publish_standing(session, shop, rating, count, shop.certification_tier)


def publish_tier(session: Session, shop: Shop, tier: str) -> None:
    """Publish the certification tier (`none` when not certified); the rating stays as it is."""
    publish_standing(session, shop, shop.rating, shop.rating_count, tier)
