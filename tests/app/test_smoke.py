"""The shell starts, reports health and rolls each test back."""

from __future__ import annotations

from sqlalchemy import func, select

from app.crm.models import Organization
from tests.factories import make_organization


def test_healthz_reports_database_ok(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.json["database"] == "ok"


def test_rollback_isolation_first_writes(session):
    make_organization(session, code="ISOLATION-PROBE")

    assert session.scalar(select(func.count()).where(Organization.code == "ISOLATION-PROBE")) == 1


def test_rollback_isolation_second_sees_nothing(session):
    assert session.scalar(select(func.count()).where(Organization.code == "ISOLATION-PROBE")) == 0


def test_app_sees_test_data(session, client):
    make_organization(session, code="SHARED-1", kind="dealer")
    from tests.factories import auth_header, make_user

    headers = auth_header(session, make_user(session))

    response = client.get("/api/v1/organizations/SHARED-1", headers=headers)

    assert response.status_code == 200
    assert response.json["kind"] == "dealer"
