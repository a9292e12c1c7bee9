"""A worker trusts the network stamps it read for RECHECK_SECONDS: the busiest searches then run no statement,
and a change made by another process still shows within that time (its own changes show at once)."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from network import versions
from network.models import NetworkVersion, Shop
from network.versions import LOCAL_CHANGE_SECONDS, RECHECK_SECONDS, SHOPS
from tests.hand_clock import HandClock
from tests.network.factories import make_shop
from tests.statements import statements_of

PATH = "/api/v1/shops?lat=34.75&lon=113.65&k=2"


@pytest.fixture
def clock(monkeypatch) -> HandClock:
    clock = HandClock(10_000.0)
    monkeypatch.setattr(versions, "monotonic", clock)
    return clock


def _codes(client) -> list[str]:
    return [item["code"] for item in client.get(PATH).get_json()["items"]]


def _closed_by_another_process(session, shop: Shop) -> None:
    """What another worker's PATCH leaves in the database: the shop closed and a new stamp (this process's
    record of its own changes untouched)."""
    session.execute(update(Shop).where(Shop.id == shop.id).values(status="closed"))
    session.execute(update(NetworkVersion).where(NetworkVersion.name == SHOPS).values(value=NetworkVersion.value + 1))


def test_a_repeated_search_runs_no_statement_while_the_stamp_is_trusted(client, session, clock):
    make_shop(session, lat=34.76, lon=113.65)
    clock.now += LOCAL_CHANGE_SECONDS
    client.get(PATH)

    again = statements_of(session, lambda: client.get(PATH))[1]
    clock.now += RECHECK_SECONDS
    rechecked = statements_of(session, lambda: client.get(PATH))[1]

    assert again == []
    assert len([statement for statement in rechecked if "network_versions" in statement]) == 1


def test_a_shop_closed_by_another_process_is_gone_within_the_recheck_time(client, session, clock):
    shop = make_shop(session, lat=34.76, lon=113.65)
    clock.now += LOCAL_CHANGE_SECONDS
    assert _codes(client) == [shop.code]

    _closed_by_another_process(session, shop)
    clock.now += RECHECK_SECONDS / 2
    still_trusted = _codes(client)
    clock.now += RECHECK_SECONDS / 2

    assert still_trusted == [shop.code]
    assert _codes(client) == []


def test_this_process_sees_its_own_change_on_the_next_search(client, session, clock):
    shop = make_shop(session, lat=34.76, lon=113.65)
    clock.now += LOCAL_CHANGE_SECONDS
    assert _codes(client) == [shop.code]

    added = make_shop(session, lat=34.755, lon=113.65)

    assert _codes(client) == [added.code, shop.code]
