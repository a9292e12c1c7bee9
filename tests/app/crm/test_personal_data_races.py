"""Issue 14 item 6: an erasure racing a booking by the same driver (PostgreSQL interleavings). Either order ends
with no trace of the person: the booking waits for the erasure and is refused, or lands first and is erased."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from sqlalchemy import func, select

from app.config import load_settings
from app.crm.models import Customer, Touchpoint, Vehicle
from app.crm.personal_data import erase_person
from app.db import make_sessionmaker, utcnow
from app.security import Role, User
from milepost.factory import load_personal_data_parts
from network.booking import book_slot
from network.models import Booking, Shop
from network.settings import network_settings
from tests.app.crm.personal_data_world import tables_containing
from tests.factories import make_customer, make_user, make_vehicle
from tests.network.factories import ZONE, make_shop
from tests.races import interleave

SETTINGS = load_settings({}, environ={})
PHONE = "13955501234"

pytestmark = pytest.mark.slow


@pytest.fixture
def world(committed_engine, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("a deterministic interleaving needs PostgreSQL's row locks; SQLite runs writers one at a time")
    load_personal_data_parts()
    with make_sessionmaker(committed_engine)() as setup:
        user = make_user(setup, Role.DRIVER, phone=PHONE)
        customer = make_customer(setup, user=user, name="诸葛明远", phone=PHONE)
        vehicle = make_vehicle(setup, owner=customer)
        shop = make_shop(setup)
        oem = make_user(setup, Role.OEM_ADMIN)
        setup.commit()
        return {"user": user.id, "customer": customer.id, "vehicle": vehicle.id, "shop": shop.id, "oem": oem.id}


def _book(ids):
    start = datetime.combine(datetime.now(ZONE).date() + timedelta(days=1), time(10), tzinfo=ZONE)

    def act(session):
        actor, truck = session.get(User, ids["user"]), session.get(Vehicle, ids["vehicle"])
        book_slot(session, actor, session.get(Shop, ids["shop"]), truck, "repair", start, network_settings(SETTINGS))

    return act


def _erase(ids):
    def act(session):
        customer = session.get(Customer, ids["customer"])
        erase_person(session, session.get(User, ids["oem"]), customer, SETTINGS, utcnow(), reason="SR-9")

    return act


def test_a_booking_that_waits_for_the_erasure_is_refused(committed_engine, world):
    outcomes = interleave(committed_engine, _erase(world), _book(world))

    assert outcomes == {"first": "ok", "second": "conflict"}
    with make_sessionmaker(committed_engine)() as check:
        assert check.scalar(select(func.count()).select_from(Booking)) == 0
        assert tables_containing(check, PHONE) == []


def test_a_booking_that_lands_first_is_erased_with_the_rest(committed_engine, world):
    outcomes = interleave(committed_engine, _book(world), _erase(world))

    assert outcomes == {"first": "ok", "second": "ok"}
    with make_sessionmaker(committed_engine)() as check:
        assert check.scalar(select(func.count()).select_from(Booking)) == 1
        touchpoint = check.scalars(select(Touchpoint).where(Touchpoint.source_type == "booking")).one()
        assert touchpoint.phone is None
        assert tables_containing(check, PHONE) == []
