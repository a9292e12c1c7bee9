"""Links a higher domain adds to network's pages (the review link on a booking, a shop's reviews on its console),
registered, never named here.

Network sits below the domains that build on its bookings, so it cannot know their endpoints or rules. A
higher domain registers a provider at import; network's pages ask `booking_links` and show what comes back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from app.security import User
from network.models import Booking, Shop


@dataclass(frozen=True)
class BookingLink:
    """A link shown on a booking: its translated label, where it goes, and a CSS class for the page."""

    label: str
    url: str
    css_class: str = ""


# A provider returns the link for this booking (settings: the app's config; now: the page's clock), or None.
BookingLinkProvider = Callable[[Booking, Mapping[str, Any], datetime], BookingLink | None]

_PROVIDERS: dict[str, BookingLinkProvider] = {}


def register_booking_link(key: str, provider: BookingLinkProvider) -> None:
    """Add (or replace, by key) a provider of links on bookings."""
    _PROVIDERS[key] = provider


def booking_links(booking: Booking, settings: Mapping[str, Any], now: datetime) -> list[BookingLink]:
    """Return every registered link that applies to the booking now."""
    links = (provider(booking, settings, now) for _key, provider in sorted(_PROVIDERS.items()))
    return [link for link in links if link is not None]


# A provider returns the link for this shop's pages (the console, the public shop page) as `actor` sees them.
ShopLinkProvider = Callable[[Shop, User | None], BookingLink | None]

_SHOP_PROVIDERS: dict[str, ShopLinkProvider] = {}


def register_shop_link(key: str, provider: ShopLinkProvider) -> None:
    """Add (or replace, by key) a provider of links on a shop's pages."""
    _SHOP_PROVIDERS[key] = provider


def shop_links(shop: Shop, actor: User | None) -> list[BookingLink]:
    """Return every registered link for the shop's pages."""
    links = (provider(shop, actor) for _key, provider in sorted(_SHOP_PROVIDERS.items()))
    return [link for link in links if link is not None]
