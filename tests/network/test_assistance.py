"""Roadside assistance: offers to nearby open shops, first accept wins (also under load), widening, escalation."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.config import DEFAULTS
from app.db import make_sessionmaker, utcnow
from app.errors import Forbidden
from app.security import Role, User
from network.acceptance import accept_request
from network.assistance import request_assistance
from network.desk import assign_request
from network.models import AssistanceOffer, AssistanceRequest, Shop
from network.rounds import advance_requests
from network.search import load_shop_index
from network.settings import network_settings
from tests.factories import auth_header, make_driver, make_user, make_vehicle, sign_in_client
from tests.network.factories import make_assistance_request, make_shop
from tests.races import race

SETTINGS = network_settings(DEFAULTS)


def _ask(client, session, lat=34.75, lon=113.65):
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    body = {"lat": lat, "lon": lon, "vin": vehicle.vin, "description": "爆胎 flat tyre"}
    return client.post("/api/v1/assistance", json=body, headers=auth_header(session, user)), user


def _staff(session, shop):
    return make_user(session, Role.SHOP_STAFF, organization=shop.organization)


def test_request_is_offered_to_nearest_open_roadside_shops(client, session):
    near = make_shop(session, lat=34.76, lon=113.65)
    make_shop(session, lat=34.77, lon=113.65, services=["repair"])  # no roadside work
    make_shop(session, lat=34.78, lon=113.65, status="closed")
    make_shop(session, lat=36.5, lon=113.65)  # 200 km away: beyond the first radius

    response, _user = _ask(client, session)

    body = response.get_json()
    assert response.status_code == 201, body
    assert body["status"] == "open"
    assert [offer["shop"] for offer in body["offers"]] == [near.code]


def test_first_accept_wins_and_driver_sees_shop_phone_and_eta(client, session):
    first = make_shop(session, lat=34.76, lon=113.65)
    second = make_shop(session, lat=34.80, lon=113.65)
    response, driver = _ask(client, session)
    request_id = response.get_json()["id"]

    accepted = client.post(
        f"/api/v1/assistance/{request_id}/accept", headers=auth_header(session, _staff(session, first))
    )
    too_late = client.post(
        f"/api/v1/assistance/{request_id}/accept", headers=auth_header(session, _staff(session, second))
    )
    seen = client.get(f"/api/v1/assistance/{request_id}", headers=auth_header(session, driver)).get_json()

    assert accepted.status_code == 200
    assert too_late.status_code == 409
    assert seen["status"] == "accepted"
    assert seen["assigned_shop"]["code"] == first.code
    assert seen["assigned_shop"]["phone"] == first.phone
    assert seen["eta_minutes"] == 15 + 2
    statuses = dict(session.execute(select(AssistanceOffer.shop_id, AssistanceOffer.status)).all())
    assert statuses == {first.id: "accepted", second.id: "lost"}


def test_accept_by_shop_not_offered_is_refused(client, session):
    make_shop(session, lat=34.76, lon=113.65)
    stranger = make_shop(session, lat=40.0, lon=100.0)
    response, _driver = _ask(client, session)

    refused = client.post(
        f"/api/v1/assistance/{response.get_json()['id']}/accept",
        headers=auth_header(session, _staff(session, stranger)),
    )

    assert refused.status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [({"lat": 99}, "lat"), ({"lon": "east"}, "lon"), ({"description": ""}, "description"), ({"vin": "X"}, "vin")],
)
def test_request_rejects_bad_input(client, session, change, field):
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    body = {"lat": 34.75, "lon": 113.65, "vin": vehicle.vin, "description": "engine", **change}

    response = client.post("/api/v1/assistance", json=body, headers=auth_header(session, user))

    assert response.status_code in (400, 404)
    assert response.get_json()["error"]["field"] == field
    assert session.scalar(select(AssistanceRequest.id)) is None


def test_timeout_widens_radius_then_escalates(session):
    far = make_shop(session, lat=35.4, lon=113.65)  # about 72 km north: inside the second radius only
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    near = make_shop(session, lat=34.76, lon=113.65)
    index = load_shop_index(session)
    request = request_assistance(session, user, vehicle, 34.75, 113.65, "engine", [], index, SETTINGS)
    assert [offer.shop_id for offer in request.offers] == [near.id]
    later = utcnow() + timedelta(seconds=SETTINGS.assistance_timeout_seconds + 1)

    advance_requests(session, index, SETTINGS, now=later)
    session.refresh(request)
    widened_round, widened_offers = request.round, {offer.shop_id for offer in request.offers}
    advance_requests(session, index, SETTINGS, now=later + timedelta(seconds=SETTINGS.assistance_timeout_seconds + 1))
    advance_requests(session, index, SETTINGS, now=later + timedelta(seconds=3 * SETTINGS.assistance_timeout_seconds))
    session.refresh(request)

    assert widened_round == 1
    assert widened_offers == {near.id, far.id}
    assert request.status == "escalated"
    assert request.escalated_at is not None


def test_request_with_no_shop_anywhere_escalates_at_once(client, session):
    response, _driver = _ask(client, session, lat=30.0, lon=90.0)

    assert response.get_json()["status"] == "escalated"


def test_oem_sees_escalated_requests(client, session):
    _ask(client, session, lat=30.0, lon=90.0)
    oem = make_user(session, Role.OEM_ADMIN)

    listed = client.get("/api/v1/assistance?status=escalated", headers=auth_header(session, oem)).get_json()

    assert listed["total"] == 1


def test_advance_command_runs(app):
    result = app.test_cli_runner().invoke(args=["assistance", "advance"])

    assert result.exit_code == 0, result.output


def test_cancel_then_accept_conflicts(client, session):
    shop = make_shop(session, lat=34.76, lon=113.65)
    response, driver = _ask(client, session)
    request_id = response.get_json()["id"]

    cancelled = client.post(f"/api/v1/assistance/{request_id}/cancel", headers=auth_header(session, driver))
    accepted = client.post(
        f"/api/v1/assistance/{request_id}/accept", headers=auth_header(session, _staff(session, shop))
    )

    assert cancelled.get_json()["status"] == "cancelled"
    assert accepted.status_code == 409


@pytest.mark.slow
def test_concurrent_accepts_have_exactly_one_winner(committed_engine):
    shops_count = 30
    maker = make_sessionmaker(committed_engine)
    settings = network_settings({**DEFAULTS, "ASSISTANCE_OFFER_SHOPS": shops_count})
    with maker() as setup:
        shops = [make_shop(setup, lat=34.75 + 0.001 * number, lon=113.65) for number in range(shops_count)]
        staff = [_staff(setup, shop) for shop in shops]
        user, customer = make_driver(setup)
        vehicle = make_vehicle(setup, owner=customer)
        request = request_assistance(
            setup, user, vehicle, 34.75, 113.65, "engine", [], load_shop_index(setup), settings
        )
        setup.commit()
        assert len(request.offers) == shops_count
        pairs = [(member.id, shop.id) for member, shop in zip(staff, shops, strict=True)]
        request_id = request.id

    def prepare(session, user_id: int, shop_id: int):
        actor, shop, target = (
            session.get(User, user_id),
            session.get(Shop, shop_id),
            session.get(AssistanceRequest, request_id),
        )
        return lambda: accept_request(session, actor, target, shop, settings)

    outcomes = race(maker, prepare, pairs)

    assert sorted(outcomes) == ["conflict"] * (shops_count - 1) + ["ok"]
    with maker() as check:
        accepted = check.scalars(select(AssistanceOffer.status).where(AssistanceOffer.status == "accepted")).all()
        assert len(accepted) == 1


def _escalated_with_a_repair_shop_near(client, session):
    """A request that no shop was offered (the only shop near does no roadside work), and that shop."""
    shop = make_shop(session, lat=34.76, lon=113.65, services=["repair"], phone="0371-66660001")
    response, driver = _ask(client, session)
    assert response.get_json()["status"] == "escalated"
    return response.get_json()["id"], shop, driver


def test_oem_desk_sees_the_nearest_shops_of_an_escalated_request(client, session):
    request_id, shop, _driver = _escalated_with_a_repair_shop_near(client, session)
    oem = auth_header(session, make_user(session, Role.OEM_ADMIN))

    candidates = client.get(f"/api/v1/assistance/{request_id}/candidates", headers=oem).get_json()["items"]

    assert candidates[0]["code"] == shop.code and candidates[0]["phone"] == "0371-66660001"
    assert candidates[0]["roadside"] is False and candidates[0]["distance_km"] == pytest.approx(1.1, abs=0.1)


def test_oem_assigns_an_escalated_request_and_driver_and_shop_see_it(client, session):
    request_id, shop, driver = _escalated_with_a_repair_shop_near(client, session)
    oem = auth_header(session, make_user(session, Role.OEM_ADMIN))
    staff = auth_header(session, _staff(session, shop))

    assigned = client.post(f"/api/v1/assistance/{request_id}/assign", json={"shop": shop.code}, headers=oem)

    assert assigned.status_code == 200, assigned.get_json()
    assert assigned.get_json()["assigned_by_oem"] is True
    seen = client.get(f"/api/v1/assistance/{request_id}", headers=auth_header(session, driver)).get_json()
    assert (seen["status"], seen["assigned_shop"]["code"], seen["eta_minutes"]) == ("accepted", shop.code, 15 + 2)
    listed = client.get("/api/v1/assistance", headers=staff).get_json()["items"]
    assert [item["id"] for item in listed] == [request_id]
    assert "****" not in listed[0]["driver_phone"]


def test_assigning_a_request_a_shop_already_took_conflicts(client, session):
    roadside = make_shop(session, lat=34.76, lon=113.65)
    other = make_shop(session, lat=34.80, lon=113.65, services=["repair"])
    response, _driver = _ask(client, session)
    request_id = response.get_json()["id"]
    client.post(f"/api/v1/assistance/{request_id}/accept", headers=auth_header(session, _staff(session, roadside)))
    oem = auth_header(session, make_user(session, Role.OEM_ADMIN))

    late = client.post(f"/api/v1/assistance/{request_id}/assign", json={"shop": other.code}, headers=oem)

    assert late.status_code == 409
    assert session.get(AssistanceRequest, request_id).accepted_shop_id == roadside.id


@pytest.mark.parametrize(("shop_code", "status"), [("closed", 409), ("NO-SUCH-SHOP", 404)])
def test_assigning_a_shop_that_cannot_take_the_job_is_refused(client, session, shop_code, status):
    request_id, _shop, _driver = _escalated_with_a_repair_shop_near(client, session)
    if shop_code == "closed":
        shop_code = make_shop(session, lat=34.77, lon=113.65, status="closed").code
    oem = auth_header(session, make_user(session, Role.OEM_ADMIN))

    refused = client.post(f"/api/v1/assistance/{request_id}/assign", json={"shop": shop_code}, headers=oem)

    assert refused.status_code == status
    assert refused.get_json()["error"]["field"] == "shop"
    assert session.get(AssistanceRequest, request_id).status == "escalated"


def test_only_the_oem_assigns_roadside_jobs(session):
    shop = make_shop(session)
    job = make_assistance_request(session)

    with pytest.raises(Forbidden):
        assign_request(session, _staff(session, shop), job, shop, SETTINGS)


def test_desk_page_shows_why_an_assignment_was_refused(client, session):
    request_id, _shop, _driver = _escalated_with_a_repair_shop_near(client, session)
    closed = make_shop(session, lat=34.77, lon=113.65, status="closed")
    token = sign_in_client(client, make_user(session, Role.OEM_ADMIN))

    refused = client.post(f"/assistance/{request_id}/assign?lang=en", data={"csrf_token": token, "shop": closed.code})

    assert refused.status_code == 409
    assert 'id="assign-error"' in refused.text and "not taking work" in refused.text
    assert session.get(AssistanceRequest, request_id).status == "escalated"


@pytest.mark.parametrize("role", [Role.DRIVER, Role.SHOP_STAFF])
def test_desk_page_is_for_the_oem(client, session, role):
    user = make_driver(session)[0] if role == Role.DRIVER else _staff(session, make_shop(session))
    sign_in_client(client, user)

    assert client.get("/assistance/desk").status_code == 403
