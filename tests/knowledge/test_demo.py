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
    make_part_type(session, category="filters")

    notes = demo.seed(session, random.Random(3), "small", lambda items, _label: items)

    assert session.scalar(select(func.count()).select_from(FaultEntry)) > 60
    assert session.scalar(select(func.count()).select_from(Article)) == 3
    assert session.scalar(select(func.count()).select_from(VehicleFault).where(VehicleFault.active.is_(False))) >= 10
    assert [fix["cases"] for fix in common_fixes(session, parse_code("100/1"))] == [3, 1]
    assert "fixes" in notes[0]
