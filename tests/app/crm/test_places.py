"""City and province names in the page's language: GeoNames' Chinese names with the kept corrections."""

from __future__ import annotations

import json
import random
import re

import pytest

from app.crm.places import china_cities, find_city, place_name
from network.highways import DATA_FILE

HAN = re.compile(r"^[\u4e00-\u9fff]+$")


@pytest.mark.parametrize(
    ("text", "province", "zh", "en"),
    [
        ("Zhengzhou", None, "郑州", "Zhengzhou"),
        ("郑州市", None, "郑州", "Zhengzhou"),
        ("Ürümqi", None, "乌鲁木齐", "Ürümqi"),
        ("Shenzhen", None, "深圳", "Shenzhen"),
        ("Suzhou", "Anhui", "宿州", "Suzhou"),
        ("Suzhou", "Jiangsu", "苏州", "Suzhou"),
        ("Henan", None, "河南", "Henan"),
        ("Xiangyang", None, "襄阳", "Xiangyang"),
        ("某个小镇", None, "某个小镇", "某个小镇"),
    ],
)
def test_place_name_in_each_language(text, province, zh, en):
    assert place_name(text, "zh", province) == zh
    assert place_name(text, "en", province) == en


def test_every_control_city_of_the_shipped_routes_has_its_chinese_name():
    features = json.loads(DATA_FILE.read_bytes())["features"]
    by_id = {city.geonameid: city for city in china_cities()}
    points = [point for feature in features for point in feature["properties"]["control_points"]]

    wrong = [
        (point["name_en"], point["name_zh"], by_id[point["geonameid"]].name_zh)
        for point in points
        if point["geonameid"] in by_id
        and by_id[point["geonameid"]].name == point["name_en"]
        and "(" not in point["name_zh"]
        and place_name(point["name_en"], "zh") != point["name_zh"]
        and find_city(point["name_en"]).geonameid == point["geonameid"]
    ]

    assert not wrong


def test_every_city_the_demo_network_uses_has_a_chinese_name(session):
    from network.demo import _city_shops
    from tests.network.factories import load_highways

    shops = _city_shops(random.Random(7), load_highways(session), "full")

    unnamed = sorted({shop["city"] for shop in shops if not HAN.match(place_name(shop["city"], "zh"))})
    assert len(shops) > 200 and not unnamed
    assert all(HAN.match(shop["name"].split("重卡")[0]) for shop in shops)


def test_every_city_a_scan_is_placed_in_has_a_chinese_name():
    from traceability.places import MIN_POPULATION

    cities = [city for city in china_cities() if city.province and city.population >= MIN_POPULATION]

    # A handful of small places GeoNames names oddly are left in English rather than guessed.
    unnamed = [city.name for city in cities if not city.name_zh]
    assert len(unnamed) <= 5, unnamed


def test_shop_page_names_its_city_and_province_in_the_page_language(client, session):
    from tests.network.factories import make_shop

    shop = make_shop(session, city="Zhengzhou", province="Henan", address="G4 K712")

    chinese = client.get(f"/shops/{shop.code}?lang=zh").get_data(as_text=True)
    english = client.get(f"/shops/{shop.code}?lang=en").get_data(as_text=True)

    assert "G4 K712 郑州 河南" in chinese and "Zhengzhou" not in chinese
    assert "G4 K712 Zhengzhou Henan" in english
