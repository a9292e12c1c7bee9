"""The request owns its transaction: one commit after the view, rollback on error, one retry of a lost race."""

from __future__ import annotations

from functools import partial

import pytest
from flask import Blueprint, Flask
from sqlalchemy import func, select

from app.errors import CountedFailure
from app.security import Attempt, record_attempt
from app.web.context import db_session

COUNTS = {"attempts": 0}


@pytest.fixture
def probe_app(app: Flask) -> Flask:
    """The test app with a few probe views that write attempt rows."""
    probe = Blueprint("probe", __name__)
    COUNTS["attempts"] = 0

    @probe.route("/probe/write", methods=["POST"])
    def write():
        record_attempt(db_session(), "probe", "written")
        return "ok"

    @probe.route("/probe/lose-once", methods=["POST"])
    def lose_once():
        COUNTS["attempts"] += 1
        session = db_session()
        record_attempt(session, "probe", f"attempt-{COUNTS['attempts']}")
        if COUNTS["attempts"] == 1:
            # What a double click meets: the same unique row inserted by the other request first.
            from app.crm.models import Organization

            session.add_all([Organization(kind="dealer", code="SAME", name="a", province="Henan", city="x")])
            session.flush()
            session.add_all([Organization(kind="dealer", code="SAME", name="b", province="Henan", city="x")])
            session.flush()
        return "ok"

    @probe.route("/probe/counted", methods=["POST"])
    def counted():
        session = db_session()
        record_attempt(session, "probe", "not-kept")
        raise CountedFailure("wrong secret", field="secret").keeping(
            session, partial(record_attempt, bucket="probe", key="kept")
        )

    app.register_blueprint(probe)
    return app


def _keys(session) -> list[str]:
    return sorted(session.scalars(select(Attempt.key).where(Attempt.bucket == "probe")))


def test_request_commits_what_the_view_wrote(probe_app, session):
    response = probe_app.test_client().post("/probe/write")

    assert response.status_code == 200
    assert _keys(session) == ["written"]


def test_request_that_loses_a_unique_race_is_run_once_more_from_the_start(probe_app, session):
    response = probe_app.test_client().post("/probe/lose-once")

    assert response.status_code == 200
    assert COUNTS["attempts"] == 2
    assert _keys(session) == ["attempt-2"]


def test_failed_request_keeps_only_its_kept_writes(probe_app, session):
    response = probe_app.test_client().post("/probe/counted")

    assert response.status_code == 401
    assert _keys(session) == ["kept"]


def test_wrong_password_is_counted_although_the_request_fails(client, session):
    before = session.scalar(select(func.count()).select_from(Attempt).where(Attempt.bucket == "login"))

    response = client.post("/api/v1/auth/tokens", json={"email": "nobody@example.com", "password": "x" * 10})

    assert response.status_code == 401
    after = session.scalar(select(func.count()).select_from(Attempt).where(Attempt.bucket == "login"))
    assert after == before + 1
