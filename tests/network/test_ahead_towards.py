"""Shops ahead chosen by the city the driver is heading for, and what the page says when the position is missing."""

from __future__ import annotations

import pytest

from app.errors import InvalidInput
from network.highways import find_route_city, list_route_cities
from tests.network.factories import load_highways, make_shop

ZH = {"Accept-Language": "zh-CN"}


def _city(route: str, name_zh: str):
    return next(city for city in list_route_cities()[route] if city.name_zh == name_zh)


@pytest.fixture
def g4_shops(session):
    """Two shops on G4: one 20 km south of Zhengzhou (towards Guangzhou), one 30 km north (towards Beijing)."""
    routes = load_highways(session)
    route = routes.by_code["G4"]
    zhengzhou = route.locate(34.75, 113.65).km
    south_lat, south_lon = route.offset_point(zhengzhou + 20, 0.3)
    north_lat, north_lon = route.offset_point(zhengzhou - 30, -0.3)
    south = make_shop(session, routes, name="许昌北服务站", lat=south_lat, lon=south_lon)
    north = make_shop(session, routes, name="新乡南服务站", lat=north_lat, lon=north_lon)
    return south, north


def test_route_cities_follow_the_plan_order():
    names = [city.name_zh for city in list_route_cities()["G4"]]

    assert names.index("北京") < names.index("郑州") < names.index("武汉")


@pytest.mark.parametrize(
    ("city", "ahead", "behind"), [("武汉", "许昌北服务站", "新乡南服务站"), ("北京", "新乡南服务站", "许昌北服务站")]
)
def test_ahead_page_towards_a_city_lists_the_shops_on_the_way(client, session, g4_shops, city, ahead, behind):
    key = _city("G4", city).key

    page = client.get(f"/shops/ahead?lat=34.75&lon=113.65&towards={key}&within_km=100", headers=ZH).text

    assert f"开往{city}" in page
    assert ahead in page
    assert behind not in page


def test_ahead_page_says_the_position_is_missing(client, session):
    key = _city("G4", "武汉").key

    response = client.get(f"/shops/ahead?towards={key}", headers=ZH)

    assert "缺少您的位置" in response.text
    assert 'role="alert"' in response.text


def test_ahead_page_asks_for_a_city_when_only_a_position_is_given(client, session, g4_shops):
    response = client.get("/shops/ahead?lat=34.75&lon=113.65", headers=ZH)

    assert "请选择您开往的城市" in response.text


@pytest.mark.parametrize("key", ["G4:999", "G999:1", "nonsense", "G4:-1"])
def test_find_route_city_refuses_what_no_route_has(key):
    with pytest.raises(InvalidInput) as caught:
        find_route_city(key)

    assert caught.value.field == "towards"
