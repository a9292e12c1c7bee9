"""The maintenance demo: plans for the demo's models, and trucks due soon, past due and fine, already reminded."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from app.clock import local_today
from app.crm.models import Notification, Touchpoint, Vehicle
from app.db import make_engine, make_sessionmaker
from maintenance.models import MaintenancePlan
from maintenance.schedule import list_due
from tests.maintenance.factories import ZONE


def test_demo_has_plans_and_trucks_due_soon_past_due_and_fine(demo_database):
    engine = make_engine(demo_database.url)
    with make_sessionmaker(engine)() as session:
        today = local_today(ZONE)
        plans = session.scalars(select(MaintenancePlan.code)).all()
        oil = Counter()
        for vehicle in session.scalars(select(Vehicle)):
            statuses = {due.item.service_code: due.status for due in list_due(session, vehicle, today, ZONE)}
            oil[statuses.get("engine_oil")] += 1
        driver_truck = session.scalars(select(Vehicle).where(Vehicle.plate == "豫A12345")).one()
        driver_oil = next(
            due for due in list_due(session, driver_truck, today, ZONE) if due.item.service_code == "engine_oil"
        )
        reminded = session.scalars(select(Notification.kind).where(Notification.kind.like("maintenance.%"))).all()
        touchpoints = session.scalars(select(Touchpoint.id).where(Touchpoint.channel == "maintenance")).all()
    engine.dispose()

    assert sorted(plans) == ["HOWO-LH", "SITRAK-LH"]
    assert oil["ok"] > oil["due_soon"] > 0 and oil["overdue"] > 0
    assert driver_oil.status == "due_soon"
    assert reminded and touchpoints
    assert any("Maintenance:" in line for line in demo_database.lines)
