"""The demo leaves every demo login something to do on its landing page (issue 13 item 8)."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, or_, select

from app.db import SESSIONMAKER_KEY
from app.security import TokenKind, User, issue_token
from app.web.context import SIGN_IN_KEY
from milepost.demo import DEMO_DRIVER_PHONE
from tests.test_landing import _tiles
from traceability.models import ProblemReport

ZH = {"Accept-Language": "zh-CN"}


def _signed_in(demo_app, login: str):
    """Return a test client signed in as the demo login `login` (an email or the driver's phone)."""
    client = demo_app.test_client()
    with demo_app.extensions[SESSIONMAKER_KEY]() as session:
        user = session.scalar(select(User).where(or_(User.email == login, User.phone == login)))
        token, _record = issue_token(session, user, timedelta(hours=1), kind=TokenKind.BROWSER)
        session.commit()
    with client.session_transaction() as cookie:
        cookie[SIGN_IN_KEY] = token
    return client


@pytest.mark.parametrize(
    ("login", "waiting"),
    [
        (DEMO_DRIVER_PHONE, ("trucks",)),
        ("shop@milepost.demo", ("offers", "receive", "stock")),
        ("dealer@milepost.demo", ("receive", "stock")),
        ("warehouse@milepost.demo", ("receive", "stock")),
        ("factory@milepost.demo", ("batches", "ship")),
        ("oem@milepost.demo", ("alerts", "recalls", "certification")),
    ],
    ids=lambda value: value.split("@")[0] if isinstance(value, str) else "",
)
def test_every_demo_login_finds_work_on_its_landing_page(demo_app, login, waiting):
    client = _signed_in(demo_app, login)

    response = client.get("/", headers=ZH)

    tiles = _tiles(response.text)
    assert response.status_code == 200
    assert {key: tiles.get(key) for key in waiting if not tiles.get(key) or tiles[key] == "0"} == {}


def test_demo_driver_sees_the_recall_on_a_truck_on_the_landing_page(demo_app):
    client = _signed_in(demo_app, DEMO_DRIVER_PHONE)

    page = client.get("/", headers=ZH).text

    warning = page.split('class="alert landing-warning"')[1].split("</div>")[0]
    assert 'id="recall-RC-' in page
    assert "召回" in warning and "授权服务站" in warning
    assert "/crm/vehicles/" in warning


def test_demo_oem_opens_an_alert_that_several_drivers_reported(demo_app):
    with demo_app.extensions[SESSIONMAKER_KEY]() as session:
        alert_id, reports = session.execute(
            select(ProblemReport.alert_id, func.count())
            .group_by(ProblemReport.alert_id)
            .order_by(func.count().desc())
            .limit(1)
        ).one()
        messages = session.scalars(select(ProblemReport.message).where(ProblemReport.alert_id == alert_id)).all()
    client = _signed_in(demo_app, "oem@milepost.demo")

    page = client.get(f"/oem/alerts/{alert_id}", headers=ZH).text

    assert reports >= 2
    assert all(message in page for message in messages)


def test_demo_oem_finds_a_pending_plaque_request_on_the_dashboard_and_the_board(demo_app):
    client = _signed_in(demo_app, "oem@milepost.demo")

    dashboard = client.get("/oem", headers=ZH).text
    board = client.get("/certification/board", headers=ZH).text

    assert re.search(r'data-figure="plaque_requests">(\d+)<', dashboard).group(1) == "1"
    assert 'id="plaque-requests"' in board and "台风刮坏了门口的认证牌" in board
