"""Driver pages without a browser: a truck's bookings and roadside history, cancelling a roadside request."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from app.crm.models import ActivityEntry
from app.security import Role
from network.models import AssistanceOffer, AssistanceStatus, OfferStatus
from tests.factories import make_driver, make_user, make_vehicle, sign_in_client
from tests.network.factories import make_assistance_request, make_shop
from tests.reviews.factories import make_booking

ZH = {"Accept-Language": "zh-CN"}
ZONE = ZoneInfo("Asia/Shanghai")


def test_truck_page_shows_its_bookings_and_roadside_requests(client, session):
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    shop = make_shop(session, name="许昌东服务站")
    booking = make_booking(session, shop, customer)
    booking.vehicle_id = vehicle.id
    make_assistance_request(session, customer=customer, vehicle=vehicle, description="爆胎")
    other_truck = make_vehicle(session, owner=customer)
    make_assistance_request(session, customer=customer, vehicle=other_truck, description="水温高")
    session.flush()
    sign_in_client(client, user)

    response = client.get(f"/crm/vehicles/{vehicle.vin}", headers=ZH)

    assert "许昌东服务站" in response.text
    assert "爆胎" in response.text
    assert "水温高" not in response.text


def _offered(session, request, shop):
    session.add(AssistanceOffer(request_id=request.id, shop_id=shop.id, round=1, distance_km=5.0))
    session.flush()


def test_driver_cancels_an_open_roadside_request_and_the_offers_are_withdrawn(client, session):
    user, customer = make_driver(session)
    request = make_assistance_request(session, customer=customer)
    _offered(session, request, make_shop(session))
    csrf = sign_in_client(client, user)

    page = client.get(f"/assistance/{request.id}", headers=ZH)
    response = client.post(f"/assistance/{request.id}/cancel", data={"csrf_token": csrf})

    assert 'id="cancel-help"' in page.text and "data-confirm=" in page.text
    assert response.status_code == 302
    session.refresh(request)
    assert request.status == AssistanceStatus.CANCELLED
    assert {offer.status for offer in request.offers} == {OfferStatus.WITHDRAWN}
    assert "已取消" in client.get(response.headers["Location"], headers=ZH).text


def test_cancelled_request_shows_no_cancel_button(client, session):
    user, customer = make_driver(session)
    request = make_assistance_request(session, customer=customer, status=AssistanceStatus.COMPLETED)
    sign_in_client(client, user)

    page = client.get(f"/assistance/{request.id}")

    assert 'id="cancel-help"' not in page.text


def test_driver_cannot_cancel_another_drivers_request(client, session):
    request = make_assistance_request(session)
    csrf = sign_in_client(client, make_driver(session)[0])

    response = client.post(f"/assistance/{request.id}/cancel", data={"csrf_token": csrf})

    assert response.status_code == 404
    session.refresh(request)
    assert request.status == AssistanceStatus.OPEN


@pytest.mark.parametrize("role", [Role.SHOP_STAFF, Role.OEM_ADMIN])
def test_only_drivers_cancel_from_the_status_page(client, session, role):
    request = make_assistance_request(session)
    csrf = sign_in_client(client, make_user(session, role))

    response = client.post(f"/assistance/{request.id}/cancel", data={"csrf_token": csrf})

    assert response.status_code in (403, 404)
    session.refresh(request)
    assert request.status == AssistanceStatus.OPEN


def _booking_at(session, shop, customer, start, status="confirmed"):
    from tests.reviews.factories import make_booking as booking_of

    return booking_of(session, shop, customer, status=status, start=start)


def test_my_bookings_splits_upcoming_from_past_and_pages_each(client, session, app):
    from datetime import timedelta

    from app.db import utcnow

    app.config["PAGE_SIZE"] = 2
    user, customer = make_driver(session)
    shop = make_shop(session, name="新郑服务站")
    now = utcnow()
    upcoming = [_booking_at(session, shop, customer, now + timedelta(days=day)) for day in (1, 2, 3)]
    past = [_booking_at(session, shop, customer, now - timedelta(days=day), "completed") for day in (1, 2)]
    sign_in_client(client, user)

    first = client.get("/bookings/mine", headers=ZH).text
    second = client.get("/bookings/mine?upcoming_page=2", headers=ZH).text

    upcoming_first = first.split('id="upcoming-bookings"')[1].split('id="past-bookings"')[0]
    past_first = first.split('id="past-bookings"')[1]
    assert f"/bookings/{upcoming[0].id}/cancel" in upcoming_first
    assert f"/bookings/{upcoming[2].id}/cancel" not in upcoming_first
    assert "upcoming_page=2" in upcoming_first
    assert past_first.index(past[0].start.astimezone(ZONE).strftime("%Y-%m-%d")) < past_first.index(
        past[1].start.astimezone(ZONE).strftime("%Y-%m-%d")
    )
    assert f"/bookings/{upcoming[2].id}/cancel" in second.split('id="past-bookings"')[0]


def test_driver_cancels_from_my_bookings_and_is_told(client, session):
    from datetime import timedelta

    from app.db import utcnow

    user, customer = make_driver(session)
    booking = _booking_at(session, make_shop(session), customer, utcnow() + timedelta(days=2))
    csrf = sign_in_client(client, user)
    page = client.get("/bookings/mine", headers=ZH).text
    form = page.split(f"/bookings/{booking.id}/cancel")[1].split("</form>")[0]
    next_path = form.split('name="next" value="')[1].split('"')[0]

    response = client.post(f"/bookings/{booking.id}/cancel", data={"csrf_token": csrf, "next": next_path})

    assert "data-confirm=" in page.split(f"/bookings/{booking.id}/cancel")[1][:200]
    assert response.headers["Location"].startswith("/bookings/mine")
    assert "预约已取消。" in client.get(response.headers["Location"], headers=ZH).text


def test_cancelling_roadside_help_is_in_the_activity_log_as_the_drivers(client, session):
    user, customer = make_driver(session)
    request = make_assistance_request(session, customer=customer)
    csrf = sign_in_client(client, user)

    client.post(f"/assistance/{request.id}/cancel", data={"csrf_token": csrf})

    entry = session.scalar(select(ActivityEntry).where(ActivityEntry.action == "network.roadside_cancelled"))
    assert (entry.actor_id, entry.subject_type, entry.subject_id) == (user.id, "assistance_request", str(request.id))
