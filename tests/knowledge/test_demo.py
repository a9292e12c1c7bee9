"""The knowledge demo seed: shipped entries, articles, and fault histories with enough fixes to show."""

from __future__ import annotations

import random

from sqlalchemy import func, select

from app.security import Role
from knowledge import demo
from knowledge.codes import parse_code
from knowledge.fixes import common_fixes
from knowledge.models import Article, FaultEntry, VehicleFault
from tests.factories import make_user, make_vehicle
from tests.network.factories import make_shop
from tests.traceability.factories import make_part_type


def test_seed_loads_entries_articles_and_fix_histories(session):
    make_user(session, Role.OEM_ADMIN)
    for _shop in range(5):
        make_shop(session, services=["engine", "repair"])
    for _truck in range(20):
        make_vehicle(session)
    make_part_type(session, part_number="VG1540080311", category="filters")

    notes = demo.seed(session, random.Random(3), "small", lambda items, _label: items)

    assert session.scalar(select(func.count()).select_from(FaultEntry)) > 60
    assert session.scalar(select(func.count()).select_from(Article)) == 3
    assert session.scalar(select(func.count()).select_from(VehicleFault).where(VehicleFault.active.is_(False))) >= 10
    oil = common_fixes(session, parse_code("100/1"))
    assert [(fix["kind"], fix["part_category"], fix["cases"]) for fix in oil] == [
        ("part_replaced", "filters", 3),
        ("wiring", None, 1),
    ]
    assert "fixes" in notes[0]


def test_seed_gives_the_demo_lookup_three_engine_shops_ahead_on_g4(client, session):
    from tests.network.factories import load_highways

    routes = load_highways(session)
    route = routes.by_code["G4"]
    here = route.locate(34.75, 113.65).km
    for km in (15, 35, 55, 75):
        lat, lon = route.offset_point(here + km, 0.3)
        make_shop(session, routes, lat=lat, lon=lon, services=["tyres"])
    make_user(session, Role.OEM_ADMIN)

    demo.seed(session, random.Random(3), "small", lambda items, _label: items)

    body = client.get(
        "/api/v1/shops/ahead?lat=34.75&lon=113.65&heading=180&within_km=150&service=engine&open_now=1"
    ).get_json()
    assert len(body["items"]) == 3
