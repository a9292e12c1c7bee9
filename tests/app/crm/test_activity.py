"""The activity log: written with its actor, read and filtered by the OEM only, never changed."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.crm.activity import record_activity
from app.errors import Conflict
from app.security import Role
from tests.factories import auth_header, make_organization, make_user


@pytest.fixture
def oem(session):
    return make_user(session, role=Role.OEM_ADMIN, organization=make_organization(session, kind="oem"))


def test_oem_reads_the_log_filtered_by_action_prefix_and_subject(client, session, oem):
    record_activity(session, oem, "traceability.alert_status_changed", "alert", 7, status="closed", note="checked")
    record_activity(session, oem, "network.shop_updated", "shop", "SHOP-1", fields=["phone"])
    record_activity(session, None, "network.booking_expired", "booking", 3)

    response = client.get("/api/v1/activity?action=network.", headers=auth_header(session, oem))
    by_subject = client.get("/api/v1/activity?subject_type=alert&subject_id=7", headers=auth_header(session, oem))

    assert response.status_code == 200
    assert [item["action"] for item in response.get_json()["items"]] == [
        "network.booking_expired",
        "network.shop_updated",
    ]
    assert response.get_json()["items"][0]["actor_role"] == "system"
    [entry] = by_subject.get_json()["items"]
    assert entry["actor_id"] == oem.id and entry["details"] == {"status": "closed", "note": "checked"}


@pytest.mark.parametrize("role", [Role.DRIVER, Role.SHOP_STAFF, Role.DEALER_STAFF])
def test_only_the_oem_reads_the_log(client, session, role):
    organization = None if role == Role.DRIVER else make_organization(session)
    user = make_user(session, role=role, organization=organization)

    response = client.get("/api/v1/activity", headers=auth_header(session, user))

    assert response.status_code == 403


def test_log_entries_cannot_be_changed_through_the_orm(session, oem):
    entry = record_activity(session, oem, "core.user_created", "user", 1)

    entry.action = "core.nothing_happened"
    with pytest.raises(Conflict):
        session.flush()


@pytest.mark.parametrize("statement", ["UPDATE activity_log SET action = 'x'", "DELETE FROM activity_log"])
def test_log_entries_cannot_be_changed_in_the_database(session, oem, statement):
    record_activity(session, oem, "core.user_created", "user", 1)

    with pytest.raises(DBAPIError), session.begin_nested():
        session.execute(text(statement))
