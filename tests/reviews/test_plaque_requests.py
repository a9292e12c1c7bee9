"""The OEM decides on a shop's plaque re-issue request: approve (a new plaque) or decline with a reason shown."""

from __future__ import annotations

import pytest

from app.db import utcnow
from app.security import Role
from app.signing import KeyRing
from reviews.plaques import active_plaque, issue_plaque, request_reissue
from tests.conftest import TEST_KEYS
from tests.factories import auth_header, make_user, sign_in_client
from tests.reviews.factories import make_shop, make_shop_staff


@pytest.fixture
def pending(session):
    shop = make_shop(session)
    issue_plaque(session, KeyRing.from_spec(TEST_KEYS), shop, None, utcnow())
    staff = make_shop_staff(session, shop)
    request = request_reissue(session, staff, shop, "lost", "", utcnow())
    return shop, staff, request


def test_oem_declines_with_a_reason_the_shop_then_sees(client, session, pending):
    shop, staff, request = pending
    oem = auth_header(session, make_user(session, Role.OEM_ADMIN))

    response = client.post(
        f"/api/v1/plaque-requests/{request.id}/decline", json={"reason": "旧牌仍可使用，请先清洁"}, headers=oem
    )
    sign_in_client(client, staff)
    page = client.get(f"/shops/{shop.code}/plaque/manage").get_data(as_text=True)

    assert response.status_code == 200
    assert response.json["status"] == "declined"
    assert response.json["decline_reason"] == "旧牌仍可使用，请先清洁"
    assert 'id="declined-request"' in page and "旧牌仍可使用，请先清洁" in page
    assert active_plaque(session, shop).number == 1


@pytest.mark.parametrize("body", [{}, {"reason": ""}, {"reason": "x" * 301}])
def test_decline_without_a_usable_reason_names_the_field(client, session, pending, body):
    _shop, _staff, request = pending
    oem = auth_header(session, make_user(session, Role.OEM_ADMIN))

    response = client.post(f"/api/v1/plaque-requests/{request.id}/decline", json=body, headers=oem)

    assert response.status_code == 400
    assert response.json["error"]["field"] == "reason"


@pytest.mark.parametrize("role", [Role.SHOP_STAFF, Role.DRIVER, Role.DEALER_STAFF])
def test_only_the_oem_may_decline(client, session, pending, role):
    shop, staff, request = pending
    user = staff if role == Role.SHOP_STAFF else make_user(session, role)

    response = client.post(
        f"/api/v1/plaque-requests/{request.id}/decline", json={"reason": "no"}, headers=auth_header(session, user)
    )

    assert response.status_code == 403
    assert request.open_shop_id == shop.id


def test_a_decided_request_cannot_be_declined_or_approved_again(client, session, pending):
    _shop, _staff, request = pending
    oem = auth_header(session, make_user(session, Role.OEM_ADMIN))
    client.post(f"/api/v1/plaque-requests/{request.id}/approve", headers=oem)

    declined = client.post(f"/api/v1/plaque-requests/{request.id}/decline", json={"reason": "late"}, headers=oem)
    approved = client.post(f"/api/v1/plaque-requests/{request.id}/approve", headers=oem)

    assert declined.status_code == 409 and declined.json["error"]["field"] == "request"
    assert approved.status_code == 409


def test_oem_approves_through_the_api_and_the_shop_sees_the_new_number(client, session, pending):
    shop, staff, request = pending
    oem = auth_header(session, make_user(session, Role.OEM_ADMIN))

    response = client.post(f"/api/v1/plaque-requests/{request.id}/approve", headers=oem)
    sign_in_client(client, staff)
    page = client.get(f"/shops/{shop.code}/plaque/manage").get_data(as_text=True)

    assert response.status_code == 201
    assert response.json["status"] == "approved" and response.json["plaque"] == 2
    assert 'id="approved-request"' in page


def test_unknown_request_is_404(client, session):
    oem = auth_header(session, make_user(session, Role.OEM_ADMIN))

    response = client.post("/api/v1/plaque-requests/999999/decline", json={"reason": "x"}, headers=oem)

    assert response.status_code == 404


def test_oem_lists_the_pending_requests(client, session, pending):
    shop, _staff, request = pending
    oem = auth_header(session, make_user(session, Role.OEM_ADMIN))

    response = client.get("/api/v1/plaque-requests", headers=oem)

    assert [(item["id"], item["shop"], item["status"]) for item in response.json["items"]] == [
        (request.id, shop.code, "pending")
    ]


def test_board_declines_with_a_reason_and_a_missing_reason_is_shown_at_the_request(client, session, pending):
    shop, _staff, request = pending
    token = sign_in_client(client, make_user(session, Role.OEM_ADMIN))
    form = {"csrf_token": token, "action": "decline", "request": str(request.id)}

    missing = client.post("/certification/board?lang=en", data=form | {"decline_reason": "  "})
    done = client.post("/certification/board", data=form | {"decline_reason": "请先报警登记"})
    board = client.get(done.headers["Location"]).get_data(as_text=True)

    assert missing.status_code == 400
    assert 'data-field="reason"' in missing.get_data(as_text=True)
    assert done.status_code == 302
    assert 'id="declined-notice"' in board and f'data-request="{request.id}"' not in board
    session.refresh(request)
    assert request.decline_reason == "请先报警登记"
