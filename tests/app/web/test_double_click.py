"""Issue 10 row 21: a double click on a create button is one record and a clean 409, never a 500.

Each test holds the first click's transaction open at the moment it wrote (a session of its own), sends the
second click as a real request while that write is uncommitted, and lets the first commit once the second waits
on it. The second request then hits the unique index (PostgreSQL) or the write lock (SQLite), is retried once by
the request's transaction owner, finds the first click's record and answers 409."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.crm.customers import create_customer
from app.crm.models import Customer, Vehicle
from app.crm.vehicles import register_vehicle
from app.db import make_sessionmaker, utcnow
from app.security import Role, User
from milepost.factory import create_app
from reviews.models import ReviewFollowUp, ReviewReply
from reviews.publishing import add_follow_up, reply_to_review
from reviews.settings import ReviewSettings
from tests.conftest import test_settings as settings_for
from tests.factories import auth_header, make_driver, make_user, random_vin
from tests.races import interleave
from tests.reviews.factories import make_shop, make_shop_staff, write_review


@pytest.fixture
def clicking_app(committed_engine, database_url, tmp_path, monkeypatch):
    """An app with its own connections to the committed test database, as a second browser tab would be."""
    monkeypatch.setenv("MILEPOST_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(settings_for(database_url))
    yield app
    app.extensions["milepost.engine"].dispose()


def click_during(engine, first: Callable[[Session], object], second_click: Callable[[], object]) -> tuple[dict, list]:
    """Run `first` in a held transaction and `second_click` (a request) while it is held; return both outcomes."""
    answers: list = []
    outcomes = interleave(engine, first, lambda _session: answers.append(second_click()))
    return outcomes, answers


def count(engine, statement) -> int:
    with make_sessionmaker(engine)() as check:
        return check.scalar(statement)


def test_a_double_click_on_reply_is_one_reply_and_a_409(committed_engine, clicking_app):
    with make_sessionmaker(committed_engine)() as setup:
        shop = make_shop(setup)
        review = write_review(setup, shop)
        staff = make_shop_staff(setup, shop)
        headers = auth_header(setup, staff)
        setup.commit()
        review_id, staff_id = review.id, staff.id

    def first(session):
        reply_to_review(session, session.get(User, staff_id), review_id, "谢谢您的评价", utcnow())

    outcomes, answers = click_during(
        committed_engine,
        first,
        lambda: clicking_app.test_client().post(
            f"/api/v1/reviews/{review_id}/reply", json={"text": "谢谢您的评价"}, headers=headers
        ),
    )

    assert outcomes == {"first": "ok", "second": "ok"}
    assert answers[0].status_code == 409, answers[0].get_data(as_text=True)
    assert count(committed_engine, select(func.count()).select_from(ReviewReply)) == 1


def test_a_double_click_on_follow_up_is_one_follow_up_and_a_409(committed_engine, clicking_app):
    with make_sessionmaker(committed_engine)() as setup:
        driver = make_driver(setup)
        review = write_review(setup, make_shop(setup), driver=driver)
        headers = auth_header(setup, driver[0])
        setup.commit()
        review_id, user_id = review.id, driver[0].id

    def first(session):
        add_follow_up(session, session.get(User, user_id), review_id, "后来又坏了", 2, ReviewSettings(), utcnow())

    outcomes, answers = click_during(
        committed_engine,
        first,
        lambda: clicking_app.test_client().post(
            f"/api/v1/reviews/{review_id}/follow-up", json={"text": "后来又坏了", "overall": 2}, headers=headers
        ),
    )

    assert outcomes == {"first": "ok", "second": "ok"}
    assert answers[0].status_code == 409, answers[0].get_data(as_text=True)
    assert count(committed_engine, select(func.count()).select_from(ReviewFollowUp)) == 1


def test_a_double_click_on_create_customer_is_one_customer_and_a_409(committed_engine, clicking_app):
    with make_sessionmaker(committed_engine)() as setup:
        headers = auth_header(setup, make_user(setup, Role.OEM_ADMIN))
        setup.commit()
    phone = "13912345678"

    outcomes, answers = click_during(
        committed_engine,
        lambda session: create_customer(session, kind="driver", name="王师傅", phone=phone),
        lambda: clicking_app.test_client().post(
            "/api/v1/customers", json={"kind": "driver", "name": "王师傅", "phone": phone}, headers=headers
        ),
    )

    assert outcomes == {"first": "ok", "second": "ok"}
    assert answers[0].status_code == 409, answers[0].get_data(as_text=True)
    assert count(committed_engine, select(func.count()).select_from(Customer).where(Customer.phone == phone)) == 1


def test_a_double_click_on_register_vehicle_is_one_vehicle_and_a_409(committed_engine, clicking_app):
    with make_sessionmaker(committed_engine)() as setup:
        user, customer = make_driver(setup)
        headers = auth_header(setup, user)
        setup.commit()
        customer_id = customer.id
    vin = random_vin()

    outcomes, answers = click_during(
        committed_engine,
        lambda session: register_vehicle(session, vin=vin, model="H6", owner=session.get(Customer, customer_id)),
        lambda: clicking_app.test_client().post("/api/v1/vehicles", json={"vin": vin, "model": "H6"}, headers=headers),
    )

    assert outcomes == {"first": "ok", "second": "ok"}
    assert answers[0].status_code == 409, answers[0].get_data(as_text=True)
    assert count(committed_engine, select(func.count()).select_from(Vehicle).where(Vehicle.vin == vin)) == 1


def test_a_double_click_on_register_is_one_driver_and_a_4xx(committed_engine, clicking_app):
    from app.crm.customers import sign_up_driver
    from app.one_time_codes import PhoneCodeSettings
    from tests.factories import request_code, texted_code

    phone = "13712345678"
    client = clicking_app.test_client()
    assert request_code(client, phone).status_code in (200, 201, 202)
    code = texted_code(clicking_app, phone)
    rules = PhoneCodeSettings.from_settings(clicking_app.config)
    body = {"name": "周师傅", "phone": phone, "password": "long-enough-1", "code": code}

    def first(session):
        sign_up_driver(session, **body, client="10.0.0.1", rules=rules, per_client_hour=10)

    outcomes, answers = click_during(committed_engine, first, lambda: client.post("/api/v1/auth/register", json=body))

    assert outcomes == {"first": "ok", "second": "ok"}
    assert 400 <= answers[0].status_code < 500, answers[0].get_data(as_text=True)
    assert count(committed_engine, select(func.count()).select_from(User).where(User.phone == phone)) == 1
