"""Each manipulation rule flags its pattern and leaves honest reviews alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from reviews.integrity import (
    FlagReason,
    IntegrityRules,
    ReviewFacts,
    ShopFacts,
    detect_manipulation,
)

T0 = datetime(2026, 5, 1, 8, tzinfo=UTC)
RULES = IntegrityRules()
SHOP = ShopFacts(daily_capacity=8, affiliated_organization_ids=frozenset({77}), phone="13800000000")


def facts(review_id: int, customer_id: int | None = None, hours: float = 0, **overrides) -> ReviewFacts:
    created = T0 + timedelta(hours=hours)
    fields = {
        "review_id": review_id,
        "customer_id": customer_id if customer_id is not None else review_id,
        "created_at": created,
        "completed_at": created - timedelta(days=2),
        "fingerprint": f"device-{review_id}",
    }
    fields.update(overrides)
    return ReviewFacts(**fields)


def reasons(reviews, shop=SHOP, rules=RULES) -> dict[int, set[str]]:
    found: dict[int, set[str]] = {}
    for flag in detect_manipulation(reviews, shop, rules):
        found.setdefault(flag.review_id, set()).add(flag.reason)
    return found


def test_detect_manipulation_leaves_honest_reviews_alone():
    honest = [facts(index, hours=index * 30) for index in range(1, 20)]

    assert reasons(honest) == {}


def test_pair_cap_flags_second_review_within_a_month():
    found = reasons([facts(1, customer_id=5), facts(2, customer_id=5, hours=24 * 10)])

    assert found == {2: {FlagReason.PAIR_CAP}}


def test_pair_cap_allows_one_review_a_month():
    found = reasons([facts(1, customer_id=5), facts(2, customer_id=5, hours=24 * 31)])

    assert found == {}


def test_bay_burst_flags_reviews_beyond_capacity():
    burst = [facts(index, hours=index * 0.5) for index in range(1, 11)]

    found = reasons(burst)

    assert set(found) == set(range(1, 11))
    assert all(FlagReason.BAY_BURST in value for value in found.values())


def test_bay_burst_allows_capacity():
    busy_day = [facts(index, hours=index * 2) for index in range(1, 9)]

    assert reasons(busy_day) == {}


def test_account_cluster_flags_accounts_sharing_a_device():
    cluster = [facts(index, hours=index * 30, fingerprint="phone-farm") for index in range(1, 4)]

    assert reasons(cluster) == dict.fromkeys(range(1, 4), {FlagReason.ACCOUNT_CLUSTER})


def test_account_cluster_allows_two_accounts_on_one_device():
    couple = [facts(index, hours=index * 30, fingerprint="family-phone") for index in range(1, 3)]

    assert reasons(couple) == {}


@pytest.mark.parametrize(
    "overrides",
    [{"customer_organization_ids": frozenset({77})}, {"customer_phone": "13800000000"}],
    ids=["own-fleet", "shop-phone"],
)
def test_affiliated_flags_the_shops_own_people(overrides):
    assert reasons([facts(1, **overrides)]) == {1: {FlagReason.AFFILIATED}}


def test_bulk_instant_flags_reviews_typed_at_the_counter():
    bulk = [
        facts(index, hours=index * 3, completed_at=T0 + timedelta(hours=index * 3, minutes=-2)) for index in (1, 2, 3)
    ]

    assert reasons(bulk) == dict.fromkeys((1, 2, 3), {FlagReason.BULK_INSTANT})


def test_bulk_instant_allows_a_single_quick_review():
    quick = [facts(1, completed_at=T0 - timedelta(minutes=3)), facts(2, hours=40)]

    assert reasons(quick) == {}
