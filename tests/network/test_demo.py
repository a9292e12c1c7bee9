"""The small demo data set: shops along the routes with gaps, bookings in every state, roadside requests."""

from __future__ import annotations

import random

from sqlalchemy import func, select

from app.config import DEFAULTS
from app.security import User
from milepost.demo import seed_core
from network import demo
from network.highways import load_route_network
from network.models import AssistanceRequest, Booking, BookingStatus, Shop
from network.search import Filters, load_shop_index, locate_truck, shops_ahead
from network.settings import network_settings


def _untracked(items, _label):
    return items


def test_demo_seed_builds_a_usable_network(session):
    rng = random.Random(2026)
    seed_core(session, rng, "small", _untracked)

    logins = demo.seed(session, rng, "small", _untracked)

    states = set(session.scalars(select(Booking.status).distinct()))
    assert states == set(BookingStatus)
    assert session.scalar(select(func.count()).select_from(Shop)) > 150
    assert session.scalar(select(func.count()).select_from(AssistanceRequest)) == 3
    assert any("shops on" in line for line in logins)
    staff = session.scalars(select(User).where(User.email == "shop@milepost.demo")).one()
    assert (
        staff.organization_id == session.scalars(select(Shop).where(Shop.code == demo.DEMO_SHOP)).one().organization_id
    )
    settings = network_settings(DEFAULTS)
    routes = load_route_network(session)
    location, direction = locate_truck(routes, 34.75, 113.65, 180.0, None, None, settings)
    ahead = shops_ahead(load_shop_index(session), routes, location, direction, 100, Filters(), settings)
    assert (location.route, direction) == ("G4", "increasing")
    assert len(ahead) >= 2
