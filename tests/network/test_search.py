"""Nearest-k search (exact against brute force), the index staying current, and shops ahead on a route."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from app.config import DEFAULTS
from app.security import Role
from network.search import Filters, ShopIndex, nearest, nearest_brute_force
from network.settings import network_settings
from tests.factories import auth_header, make_user
from tests.network.factories import make_shop
from tests.statements import statements_of

SETTINGS = network_settings(DEFAULTS)
MONDAY_NOON = datetime(2026, 6, 1, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


def _random_index(count: int, seed: int) -> ShopIndex:
    rng = random.Random(seed)
    services = ["repair", "tyres", "roadside", "parts"]
    records = [
        (
            number,
            f"S{number}",
            rng.uniform(20, 45),
            rng.uniform(100, 125),
            rng.sample(services, rng.randint(1, 3)),
            rng.choice(["none", "certified", "gold"]),
            rng.choice([None, 3.5, 4.2, 4.8]),
            rng.random() < 0.3,
            {"mon": [["08:00", "18:00"]]},
        )
        for number in range(1, count + 1)
    ]
    return ShopIndex.from_records(records)


@pytest.mark.parametrize(
    "filters",
    [
        Filters(),
        Filters(service="roadside"),
        Filters(certified=True, min_rating=4.0),
        Filters(open_at=MONDAY_NOON),
        Filters(open_at=datetime(2026, 6, 1, 16, 0, tzinfo=UTC), service="parts"),
    ],
)
def test_nearest_equals_brute_force(filters):
    index = _random_index(3000, seed=7)
    rng = random.Random(11)

    for _query in range(60):
        lat, lon, k = rng.uniform(18, 47), rng.uniform(95, 130), rng.choice([1, 5, 10, 50])
        assert nearest(index, lat, lon, k, filters, SETTINGS) == nearest_brute_force(
            index, lat, lon, k, filters, SETTINGS
        )


def test_nearest_respects_max_km():
    index = _random_index(500, seed=3)

    found = nearest(index, 30.0, 110.0, 50, Filters(), SETTINGS, max_km=100)

    assert all(distance <= 100 for _, distance in found)
    assert found == nearest_brute_force(index, 30.0, 110.0, 50, Filters(), SETTINGS, max_km=100)


def test_nearest_api_lists_k_nearest_with_distance(client, session, routes):
    near = make_shop(session, lat=34.76, lon=113.65)
    far = make_shop(session, lat=34.0, lon=113.0)

    response = client.get("/api/v1/shops?lat=34.75&lon=113.65&k=2")

    items = response.get_json()["items"]
    assert [item["code"] for item in items] == [near.code, far.code]
    assert items[0]["distance_km"] == pytest.approx(1.11, abs=0.02)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("lat=95&lon=113", "lat"),
        ("lat=abc&lon=113", "lat"),
        ("lat=34&lon=-181", "lon"),
        ("lat=34", "lon"),
        ("lat=34&lon=113&k=51", "k"),
        ("lat=34&lon=113&k=0", "k"),
        ("lat=34&lon=113&k=ten", "k"),
        ("lat=34&lon=113&service=massage", "service"),
        ("lat=34&lon=113&min_rating=6", "min_rating"),
        ("lat=34&lon=113&max_km=-5", "max_km"),
    ],
)
def test_nearest_api_rejects_bad_input(client, routes, query, field):
    response = client.get(f"/api/v1/shops?{query}")

    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field


def test_nearest_api_filters_certified_and_service(client, session, routes):
    make_shop(session, lat=34.751, lon=113.65, certification_tier="none")
    make_shop(session, lat=34.752, lon=113.65, services=["parts"])
    wanted = make_shop(session, lat=34.80, lon=113.65)

    response = client.get("/api/v1/shops?lat=34.75&lon=113.65&k=5&certified=true&service=repair")

    assert [item["code"] for item in response.get_json()["items"]] == [wanted.code]


def test_index_sees_shop_changes_made_after_it_was_built(client, session, routes):
    shop = make_shop(session, lat=34.76, lon=113.65)
    assert client.get("/api/v1/shops?lat=34.75&lon=113.65&k=5").get_json()["items"][0]["code"] == shop.code
    oem = make_user(session, Role.OEM_ADMIN)

    client.patch(f"/api/v1/shops/{shop.code}", json={"status": "closed"}, headers=auth_header(session, oem))
    added = make_shop(session, lat=34.9, lon=113.65)
    response = client.get("/api/v1/shops?lat=34.75&lon=113.65&k=5")

    assert [item["code"] for item in response.get_json()["items"]] == [added.code]


def _g4_shop(session, routes, km, side_offset_km, **fields):
    """A shop beside G4 at kilometre `km`, `side_offset_km` to the right (+) or left (-) of increasing km."""
    lat, lon = routes.by_code["G4"].offset_point(km, side_offset_km)
    return make_shop(session, routes, lat=lat, lon=lon, **fields)


def _truck(routes, km):
    return routes.by_code["G4"].point_at(km)


def test_ahead_southbound_on_g4_lists_shops_ahead_only(client, session, routes):
    truck_km = routes.snap(34.75, 113.65, 5)[0].km
    lat, lon = _truck(routes, truck_km)
    ahead_near = _g4_shop(session, routes, truck_km + 20, 0.2)
    ahead_far = _g4_shop(session, routes, truck_km + 80, 3.0)
    _g4_shop(session, routes, truck_km - 20, 0.2)  # behind
    _g4_shop(session, routes, truck_km + 30, -0.2)  # service area on the northbound carriageway
    exit_shop = _g4_shop(session, routes, truck_km + 40, -2.0)  # off an exit: both directions
    _g4_shop(session, routes, truck_km + 150, 0.2)  # beyond within_km

    response = client.get(f"/api/v1/shops/ahead?lat={lat}&lon={lon}&highway=G4&direction=increasing&within_km=100")

    body = response.get_json()
    assert response.status_code == 200, body
    assert [item["code"] for item in body["items"]] == [ahead_near.code, exit_shop.code, ahead_far.code]
    assert [round(item["km_ahead"]) for item in body["items"]] == [20, 40, 80]
    assert body["items"][2]["detour_km"] == pytest.approx(6.0, abs=0.1)


def test_ahead_by_heading_picks_direction(client, session, routes):
    truck_km = 600.0
    lat, lon = _truck(routes, truck_km)
    south = _g4_shop(session, routes, truck_km + 10, 1.0)
    north = _g4_shop(session, routes, truck_km - 10, 1.0)
    bearing = routes.by_code["G4"].bearing_at(truck_km)

    southbound = client.get(f"/api/v1/shops/ahead?lat={lat}&lon={lon}&heading={bearing:.0f}&within_km=50").get_json()
    northbound = client.get(
        f"/api/v1/shops/ahead?lat={lat}&lon={lon}&heading={(bearing + 180) % 360:.0f}&within_km=50"
    ).get_json()

    assert (southbound["highway"], southbound["direction"]) == ("G4", "increasing")
    assert [item["code"] for item in southbound["items"]] == [south.code]
    assert northbound["direction"] == "decreasing"
    assert [item["code"] for item in northbound["items"]] == [north.code]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("lat=34.75&lon=113.65", "heading"),
        ("lat=34.75&lon=113.65&heading=400", "heading"),
        ("lat=34.75&lon=113.65&highway=G999&direction=increasing", "highway"),
        ("lat=34.75&lon=113.65&highway=G4&direction=sideways", "direction"),
        ("lat=30.0&lon=90.0&heading=180", "lat"),
        ("lat=34.75&lon=113.65&heading=180&within_km=0", "within_km"),
        ("lat=34.75&lon=113.65&heading=180&within_km=99999", "within_km"),
    ],
)
def test_ahead_rejects_bad_input(client, routes, query, field):
    response = client.get(f"/api/v1/shops/ahead?{query}")

    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field


def test_open_now_uses_shanghai_time():
    index = ShopIndex.from_records(
        [(1, "A", 30.0, 110.0, ["repair"], "none", None, False, {"mon": [["08:00", "18:00"]]})]
    )
    zone = ZoneInfo("Asia/Shanghai")

    open_at_noon = nearest(index, 30.0, 110.0, 1, Filters(open_at=MONDAY_NOON), SETTINGS)
    closed_at_night = nearest(
        index, 30.0, 110.0, 1, Filters(open_at=datetime(2026, 6, 1, 20, 0, tzinfo=zone)), SETTINGS
    )

    assert len(open_at_noon) == 1
    assert closed_at_night == []


def _statements_of(session, call) -> list[str]:
    return statements_of(session, call)[1]


@pytest.mark.parametrize(
    "path", ["/api/v1/shops?lat=34.75&lon=113.65&k={k}", "/api/v1/shops/ahead?lat=34.6&lon=113.7&heading=180"]
)
def test_shop_lists_load_each_shops_route_up_front_not_one_query_per_shop(client, session, routes, path):
    """The nearest and ahead lists name each shop's route: loaded per shop, it read a route's whole geometry
    (hundreds of kilobytes) for each route among the shops, on the busiest public paths."""
    for km in range(4):
        _g4_shop(session, routes, 690 + 5 * km, 0.3)
    for code in ("G30", "G1", "G5", "G60"):  # nearest also finds these, far away
        lat, lon = routes.by_code[code].offset_point(50, 0.3)
        make_shop(session, routes, lat=lat, lon=lon)
    client.get(path.format(k=1))  # warm: the route network is built once per process

    def cold(k: int) -> list[str]:
        make_shop(session, lat=22.0, lon=100.0)  # far away: a new shop index, nothing rendered yet
        return _statements_of(session, lambda: client.get(path.format(k=k)))

    one, many = cold(1), cold(8)
    items = client.get(path.format(k=8)).get_json()["items"]

    assert len(items) >= 4 and {item["highway"] for item in items} >= {"G4"}
    assert not [statement for statement in many if "FROM highways" in statement]
    assert len(many) == len(one)


def test_a_repeated_nearest_search_reads_no_shop_rows_until_a_shop_changes(client, session, routes):
    """The shops a process has rendered are kept with its shop index: the busiest public list reads only the
    version stamp; a change to any shop (here a new phone number) shows on the next search."""
    shop = make_shop(session, lat=34.76, lon=113.65)
    make_shop(session, lat=34.0, lon=113.0)
    path = "/api/v1/shops?lat=34.75&lon=113.65&k=2"
    client.get(path)

    again = _statements_of(session, lambda: client.get(path))
    oem = make_user(session, Role.OEM_ADMIN)
    client.patch(f"/api/v1/shops/{shop.code}", json={"phone": "0371-12345678"}, headers=auth_header(session, oem))
    changed = client.get(path).get_json()["items"]

    assert not [statement for statement in again if "FROM shops" in statement]
    assert changed[0]["code"] == shop.code and changed[0]["phone"] == "0371-12345678"
