"""Manipulation rules over plain review records: which reviews to weight to zero, and why.

Every rule looks at the reviews of one shop. A flagged review stays stored and visible to the OEM with its
reasons; it only stops counting in scores. Rules, with the settings that tune them:

- `pair_cap`: more than REVIEW_PAIR_CAP_PER_MONTH reviews by one driver of one shop within 30 days; the
  earliest ones count, later ones are flagged.
- `bay_burst`: more reviews written within REVIEW_BURST_WINDOW_HOURS than the shop's bays could have served
  in that time (bays x slots per day); every review in the over-full window is flagged.
- `account_cluster`: REVIEW_CLUSTER_MIN_ACCOUNTS or more different accounts reviewing one shop from the same
  device or client (the same fingerprint); all of them are flagged.
- `affiliated`: the reviewer belongs to a fleet or organization that runs the shop, or uses the shop's own phone.
- `bulk_instant`: REVIEW_BULK_MIN_COUNT or more reviews of one shop, each written within REVIEW_BULK_MINUTES of
  its booking's completion, within one burst window: reviews typed at the counter in bulk.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

PAIR_CAP_PERIOD = timedelta(days=30)


class FlagReason(StrEnum):
    """Why a review does not count in scores."""

    PAIR_CAP = "pair_cap"
    BAY_BURST = "bay_burst"
    ACCOUNT_CLUSTER = "account_cluster"
    AFFILIATED = "affiliated"
    BULK_INSTANT = "bulk_instant"


# Reasons that point at the shop organizing fake reviews (an integrity breach when they pile up), as opposed to
# an eager driver going over the per-pair cap.
SHOP_MANIPULATION = frozenset(
    {FlagReason.BAY_BURST, FlagReason.ACCOUNT_CLUSTER, FlagReason.AFFILIATED, FlagReason.BULK_INSTANT}
)


@dataclass(frozen=True)
class ReviewFacts:
    """What the rules need to know about one review of a shop."""

    review_id: int
    customer_id: int
    created_at: datetime
    completed_at: datetime
    fingerprint: str | None = None
    customer_organization_ids: frozenset[int] = frozenset()
    customer_phone: str | None = None


@dataclass(frozen=True)
class ShopFacts:
    """What the rules need to know about the shop: its capacity and who runs it."""

    daily_capacity: int
    affiliated_organization_ids: frozenset[int] = frozenset()
    phone: str | None = None


@dataclass(frozen=True)
class IntegrityRules:
    """Tuning of the rules (from ReviewSettings)."""

    pair_cap_per_month: int = 1
    burst_window_hours: int = 24
    cluster_min_accounts: int = 3
    bulk_minutes: int = 10
    bulk_min_count: int = 3


@dataclass(frozen=True)
class Flag:
    """One rule's finding about one review."""

    review_id: int
    reason: FlagReason
    detail: str


def _windows(reviews: Sequence[ReviewFacts], width: timedelta) -> Iterable[list[ReviewFacts]]:
    """Yield, for each review, the reviews written within `width` before it (itself included), sorted by time."""
    ordered = sorted(reviews, key=lambda review: (review.created_at, review.review_id))
    start = 0
    for end, review in enumerate(ordered):
        while ordered[start].created_at <= review.created_at - width:
            start += 1
        yield ordered[start : end + 1]


def flag_pair_cap(reviews: Sequence[ReviewFacts], rules: IntegrityRules) -> list[Flag]:
    """Flag one driver's reviews of the shop beyond the cap within any 30 days (earliest ones count)."""
    flags = []
    by_customer: dict[int, list[ReviewFacts]] = defaultdict(list)
    for review in reviews:
        by_customer[review.customer_id].append(review)
    for own in by_customer.values():
        counted: list[datetime] = []
        for review in sorted(own, key=lambda item: (item.created_at, item.review_id)):
            recent = [moment for moment in counted if review.created_at - moment < PAIR_CAP_PERIOD]
            if len(recent) >= rules.pair_cap_per_month:
                flags.append(
                    Flag(
                        review.review_id,
                        FlagReason.PAIR_CAP,
                        f"more than {rules.pair_cap_per_month} review(s) by one driver of this shop within 30 days",
                    )
                )
            else:
                counted.append(review.created_at)
    return flags


def flag_bay_burst(reviews: Sequence[ReviewFacts], shop: ShopFacts, rules: IntegrityRules) -> list[Flag]:
    """Flag every review in a window holding more reviews than the bays could have served in it."""
    limit = max(1, shop.daily_capacity * rules.burst_window_hours // 24)
    flagged: dict[int, int] = {}
    for window in _windows(reviews, timedelta(hours=rules.burst_window_hours)):
        if len(window) > limit:
            for review in window:
                flagged[review.review_id] = max(flagged.get(review.review_id, 0), len(window))
    return [
        Flag(
            review_id,
            FlagReason.BAY_BURST,
            f"{count} reviews within {rules.burst_window_hours} h; the bays could serve {limit}",
        )
        for review_id, count in flagged.items()
    ]


def flag_account_cluster(reviews: Sequence[ReviewFacts], rules: IntegrityRules) -> list[Flag]:
    """Flag the reviews of a fingerprint (device or client) shared by several reviewing accounts."""
    by_fingerprint: dict[str, list[ReviewFacts]] = defaultdict(list)
    for review in reviews:
        if review.fingerprint:
            by_fingerprint[review.fingerprint].append(review)
    flags = []
    for group in by_fingerprint.values():
        accounts = {review.customer_id for review in group}
        if len(accounts) >= rules.cluster_min_accounts:
            detail = f"{len(accounts)} accounts reviewed this shop from one device or client"
            flags.extend(Flag(review.review_id, FlagReason.ACCOUNT_CLUSTER, detail) for review in group)
    return flags


def flag_affiliated(reviews: Sequence[ReviewFacts], shop: ShopFacts) -> list[Flag]:
    """Flag reviews written by people belonging to the shop's own fleet or operator, or on the shop's phone."""
    flags = []
    for review in reviews:
        if review.customer_organization_ids & shop.affiliated_organization_ids:
            flags.append(Flag(review.review_id, FlagReason.AFFILIATED, "the reviewer's fleet runs this shop"))
        elif shop.phone and review.customer_phone == shop.phone:
            flags.append(Flag(review.review_id, FlagReason.AFFILIATED, "the reviewer uses the shop's own phone"))
    return flags


def flag_bulk_instant(reviews: Sequence[ReviewFacts], rules: IntegrityRules) -> list[Flag]:
    """Flag reviews written within minutes of completion when several such reviews come together."""
    quick = [
        review
        for review in reviews
        if timedelta(0) <= review.created_at - review.completed_at <= timedelta(minutes=rules.bulk_minutes)
    ]
    flagged: set[int] = set()
    for window in _windows(quick, timedelta(hours=rules.burst_window_hours)):
        if len(window) >= rules.bulk_min_count:
            flagged.update(review.review_id for review in window)
    detail = f"{rules.bulk_min_count}+ reviews each written within {rules.bulk_minutes} min of completion"
    return [Flag(review_id, FlagReason.BULK_INSTANT, detail) for review_id in sorted(flagged)]


def detect_manipulation(reviews: Sequence[ReviewFacts], shop: ShopFacts, rules: IntegrityRules) -> list[Flag]:
    """Run every rule over one shop's reviews; return all findings (a review may have several reasons)."""
    return [
        *flag_pair_cap(reviews, rules),
        *flag_bay_burst(reviews, shop, rules),
        *flag_account_cluster(reviews, rules),
        *flag_affiliated(reviews, shop),
        *flag_bulk_instant(reviews, rules),
    ]
