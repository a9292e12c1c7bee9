"""Writes a person may later ask about are in the activity log with their actor: shop edits, roadside desk
assignments, certification overrides and evaluation changes, plaque issues and re-issues."""

from __future__ import annotations

from sqlalchemy import select

from app.crm.activity import ActivityEntry
from app.security import Role
from tests.factories import auth_header, make_driver, make_user, make_vehicle
from tests.network.factories import make_shop


def _log(session, action: str) -> list[ActivityEntry]:
    return list(session.scalars(select(ActivityEntry).where(ActivityEntry.action == action).order_by(ActivityEntry.id)))


def test_shop_edit_is_logged_with_its_actor_and_fields(client, session):
    shop = make_shop(session)
    staff = make_user(session, Role.SHOP_STAFF, organization=shop.organization)

    response = client.patch(
        f"/api/v1/shops/{shop.code}", json={"phone": "0371-66661234"}, headers=auth_header(session, staff)
    )

    assert response.status_code == 200, response.get_json()
    [entry] = _log(session, "network.shop_updated")
    assert (entry.actor_id, entry.subject_id, entry.details) == (staff.id, shop.code, {"fields": ["phone"]})


def test_desk_assignment_is_logged(client, session):
    shop = make_shop(session, lat=34.76, lon=113.65, services=["repair"])
    user, customer = make_driver(session)
    body = {"lat": 34.75, "lon": 113.65, "vin": make_vehicle(session, owner=customer).vin, "description": "engine"}
    request_id = client.post("/api/v1/assistance", json=body, headers=auth_header(session, user)).get_json()["id"]
    oem = make_user(session, Role.OEM_ADMIN)

    response = client.post(
        f"/api/v1/assistance/{request_id}/assign", json={"shop": shop.code}, headers=auth_header(session, oem)
    )

    assert response.status_code == 200, response.get_json()
    [entry] = _log(session, "network.roadside_assigned")
    assert (entry.actor_id, entry.subject_id, entry.details) == (oem.id, str(request_id), {"shop": shop.code})


def test_override_and_plaque_reissue_are_logged(client, session):
    shop = make_shop(session)
    oem = make_user(session, Role.OEM_ADMIN)
    headers = auth_header(session, oem)

    overridden = client.post(
        f"/api/v1/shops/{shop.code}/certification/override",
        json={"tier": "gold", "reason": "audited in person by the regional team"},
        headers=headers,
    )
    reissued = client.post(f"/api/v1/shops/{shop.code}/plaque", headers=headers)

    assert overridden.status_code == 200, overridden.get_json()
    assert reissued.status_code == 201, reissued.get_json()
    [change] = _log(session, "reviews.certification_changed")
    assert change.actor_id == oem.id and change.details["kind"] == "override" and change.details["to_tier"] == "gold"
    issued, again = _log(session, "reviews.plaque_issued"), _log(session, "reviews.plaque_reissued")
    assert [entry.details["number"] for entry in issued] == [1]  # the plaque that came with gold
    assert [(entry.actor_id, entry.details["number"], entry.details["replaced"]) for entry in again] == [(oem.id, 2, 1)]
