"""Planted manipulation through the real write path: flagged, kept, and the shop's score does not move."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.db import utcnow
from reviews.integrity import FlagReason
from reviews.models import ShopScore
from reviews.publishing import affiliate_organization
from reviews.ratings import daily_capacity, network_percentile, refresh_shop_score
from reviews.settings import ReviewSettings
from tests.factories import make_driver, make_organization, make_user
from tests.reviews.factories import make_shop, write_review

NOW = utcnow()


def score_now(session, shop) -> float:
    return refresh_shop_score(session, shop, ReviewSettings(), NOW).overall


def honest_history(session, shop):
    for index in reversed(range(4)):
        write_review(session, shop, 3 + index % 2, now=NOW - timedelta(days=60 + index * 35))
    return score_now(session, shop)


def assert_unmoved(session, shop, before, reviews, reason):
    assert score_now(session, shop) == pytest.approx(before)
    for review in reviews:
        assert reason in {flag.reason for flag in review.flags}
        assert review.is_flagged


def test_pair_cap_second_review_in_a_month_does_not_move_score(session):
    shop = make_shop(session)
    before_first = honest_history(session, shop)
    driver = make_driver(session)
    write_review(session, shop, 5, driver=driver, now=NOW - timedelta(days=5))
    before = score_now(session, shop)

    second = write_review(session, shop, 5, driver=driver, now=NOW)

    assert before > before_first
    assert_unmoved(session, shop, before, [second], FlagReason.PAIR_CAP)


def test_bay_burst_does_not_move_score(session):
    shop = make_shop(session, bays=1, slot_minutes=240, open_24h=False, opening_hours={"mon": [["08:00", "16:00"]]})
    before = honest_history(session, shop)

    burst = [write_review(session, shop, 5, now=NOW - timedelta(minutes=30 * index)) for index in range(4)]

    assert daily_capacity(shop) == 2
    assert_unmoved(session, shop, before, burst, FlagReason.BAY_BURST)


def test_account_cluster_does_not_move_score(session):
    shop = make_shop(session)
    before = honest_history(session, shop)

    cluster = [write_review(session, shop, 5, now=NOW - timedelta(days=index * 3), device="farm") for index in range(3)]

    assert_unmoved(session, shop, before, cluster, FlagReason.ACCOUNT_CLUSTER)


def test_fleet_reviewing_its_own_shop_does_not_move_score(session):
    shop = make_shop(session)
    fleet = make_organization(session, kind="fleet")
    before = honest_history(session, shop)
    affiliate_organization(session, make_user(session), shop, fleet, "fleet workshop", ReviewSettings(), NOW)
    user, customer = make_driver(session)
    customer.fleet_id = fleet.id

    own = write_review(session, shop, 5, driver=(user, customer), now=NOW)

    assert_unmoved(session, shop, before, [own], FlagReason.AFFILIATED)


def test_affiliation_recorded_later_zeroes_earlier_reviews(session):
    shop = make_shop(session)
    fleet = make_organization(session, kind="fleet")
    before = honest_history(session, shop)
    user, customer = make_driver(session)
    customer.fleet_id = fleet.id
    own = write_review(session, shop, 5, driver=(user, customer), now=NOW)

    affiliate_organization(session, make_user(session), shop, fleet, "fleet workshop", ReviewSettings(), NOW)

    assert_unmoved(session, shop, before, [own], FlagReason.AFFILIATED)


def test_bulk_reviews_at_completion_do_not_move_score(session):
    shop = make_shop(session, bays=6)
    before = honest_history(session, shop)

    bulk = [
        write_review(
            session,
            shop,
            5,
            now=NOW - timedelta(hours=index * 3),
            completed_at=NOW - timedelta(hours=index * 3, minutes=4),
        )
        for index in range(3)
    ]

    assert_unmoved(session, shop, before, bulk, FlagReason.BULK_INSTANT)


def test_honest_review_moves_score_by_documented_amount(session):
    shop = make_shop(session)
    honest_history(session, shop)
    score = session.get(ShopScore, shop.id)
    before, weight = score.overall, score.dimensions["overall"]["weight"]

    write_review(session, shop, 5, now=NOW)

    assert score.overall - before == pytest.approx((5 - before) / (5 + weight + 1), abs=1e-3)


def test_network_percentile_ranks_shops(session):
    good, bad = make_shop(session), make_shop(session)
    write_review(session, good, 5)
    write_review(session, bad, 1)

    assert network_percentile(session, session.get(ShopScore, good.id).overall) >= 50
    assert network_percentile(session, session.get(ShopScore, bad.id).overall) <= 50


def test_a_shop_closing_at_24_00_has_the_capacity_of_its_whole_evening(session):
    # Issue 10 (Also): reviews reads opening hours through network's own parser, which accepts 24:00.
    shop = make_shop(session, bays=1, slot_minutes=60, open_24h=False, opening_hours={"fri": [["16:00", "24:00"]]})

    assert daily_capacity(shop) == 8
