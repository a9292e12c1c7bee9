"""A shop's public standing written down into the lower layers that show it (network shop, CRM organization)."""

from __future__ import annotations

from decimal import Decimal

from network.models import Shop


def publish_rating(shop: Shop, rating: Decimal | None, count: int) -> None:
    """Write the shrunk rating and its review count where search, coverage and scan pages read them."""
    shop.rating = rating
    shop.rating_count = count
    shop.organization.rating = rating
    shop.organization.rating_count = count


def publish_tier(shop: Shop, tier: str) -> None:
    """Write the published certification tier (`none` when not certified) where the lower layers read it."""
    shop.certification_tier = tier
    shop.organization.certification_tier = tier
