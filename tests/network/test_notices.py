"""What drivers are told about their bookings and roadside requests: once, in their language, after quiet hours."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.config import DEFAULTS
from app.crm.models import Notification
from app.crm.notifications import INBOX, SMS, WECHAT, set_preferences
from app.crm.wechat import WECHAT_KEY, WechatSender
from app.security import Role
from network.booking import book_slot, expire_unanswered, transition_booking
from network.models import AssistanceRequest
from network.notices import tell_booking
from network.settings import network_settings
from tests.factories import auth_header, make_driver, make_user, make_vehicle, sign_in_client
from tests.network.factories import ZONE, make_shop, next_slot

SETTINGS = network_settings(DEFAULTS)
ZH = {"Accept-Language": "zh-CN"}
EN = {"Accept-Language": "en"}


def _booking(session, **shop_fields):
    shop = make_shop(session, name="郑州重汽服务站", **shop_fields)
    driver, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    booking = book_slot(session, driver, shop, vehicle, "repair", next_slot(), SETTINGS)
    return booking, driver, make_user(session, Role.SHOP_STAFF, organization=shop.organization)


def _rows(session, user, kind=None):
    statement = select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
    if kind is not None:
        statement = statement.where(Notification.kind == kind)
    return session.scalars(statement).all()


@pytest.mark.parametrize(
    ("action", "kind"),
    [("confirm", "network.booking_confirmed"), ("reject", "network.booking_rejected")],
)
def test_the_shops_answer_is_sent_to_the_driver_with_a_link_to_their_bookings(session, action, kind):
    booking, driver, staff = _booking(session)

    transition_booking(session, staff, booking, action, SETTINGS)

    rows = _rows(session, driver)
    assert [(row.kind, row.channel) for row in rows] == [(kind, INBOX), (kind, SMS)]
    assert rows[0].link == "/bookings/mine"
    assert rows[0].params["shop"] == "郑州重汽服务站"


def test_a_missed_booking_is_told_to_the_driver(session):
    booking, driver, staff = _booking(session)

    transition_booking(session, staff, booking, "no-show", SETTINGS, now=booking.start + timedelta(minutes=5))

    assert {row.kind for row in _rows(session, driver)} == {"network.booking_no_show"}


def test_an_expired_booking_is_told_by_the_job(session):
    booking, driver, _staff = _booking(session)

    expired = expire_unanswered(session, booking.start + timedelta(minutes=1), ZONE)

    assert expired == 1
    assert {row.kind for row in _rows(session, driver)} == {"network.booking_expired"}


def test_a_second_click_or_a_retry_writes_the_notification_once(client, session):
    booking, driver, staff = _booking(session)
    headers = auth_header(session, staff)

    first = client.post(f"/api/v1/bookings/{booking.id}/confirm", headers=headers)
    second = client.post(f"/api/v1/bookings/{booking.id}/confirm", headers=headers)
    tell_booking(session, booking, ZONE, booking.created_at)  # a retried job or request telling again

    assert (first.status_code, second.status_code) == (200, 409)
    assert [row.channel for row in _rows(session, driver)] == [INBOX, SMS]


def test_no_text_during_quiet_hours_the_inbox_copy_at_once(session):
    booking, driver, staff = _booking(session)
    set_preferences(session, driver, quiet_start="22:00", quiet_end="08:00", sms_enabled=True, now=booking.created_at)
    late = booking.created_at.astimezone(ZONE).replace(hour=23, minute=0) - timedelta(days=1)

    transition_booking(session, staff, booking, "confirm", SETTINGS, now=late)

    inbox, text = _rows(session, driver)
    assert inbox.deliver_at == late
    assert text.deliver_at.astimezone(ZONE).hour == 8
    assert text.deliver_at > late


def test_a_driver_who_turned_texts_off_gets_the_inbox_only(session):
    booking, driver, staff = _booking(session)
    set_preferences(session, driver, quiet_start=None, quiet_end=None, sms_enabled=False, now=booking.created_at)

    transition_booking(session, staff, booking, "confirm", SETTINGS)

    assert [row.channel for row in _rows(session, driver)] == [INBOX]


@pytest.mark.parametrize(("headers", "expected"), [(ZH, "已确认您"), (EN, "confirmed your booking")])
def test_the_landing_page_shows_it_in_the_readers_language_and_not_to_a_stranger(client, session, headers, expected):
    booking, driver, staff = _booking(session)
    transition_booking(session, staff, booking, "confirm", SETTINGS)
    stranger, _customer = make_driver(session)

    sign_in_client(client, driver)
    mine = client.get("/", headers=headers).get_data(as_text=True)
    sign_in_client(client, stranger)
    theirs = client.get("/", headers=headers).get_data(as_text=True)
    inbox = client.get("/inbox", headers=headers).get_data(as_text=True)

    assert expected in mine
    assert 'href="/bookings/mine"' in mine
    assert expected not in theirs
    assert expected not in inbox


def _ask(client, session, lat=34.75, lon=113.65):
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    body = {"lat": lat, "lon": lon, "vin": vehicle.vin, "description": "爆胎 flat tyre"}
    return client.post("/api/v1/assistance", json=body, headers=auth_header(session, user)), user


def test_the_driver_is_told_which_shop_is_coming_and_when(client, session):
    shop = make_shop(session, lat=34.76, lon=113.65, name="京港澳服务站", phone="0371-5550100")
    response, driver = _ask(client, session)
    request_id = response.get_json()["id"]
    staff = make_user(session, Role.SHOP_STAFF, organization=shop.organization)

    client.post(f"/api/v1/assistance/{request_id}/accept", headers=auth_header(session, staff))

    rows = _rows(session, driver, "network.roadside_accepted")
    assert [row.channel for row in rows] == [INBOX, SMS]
    assert rows[0].params == {"shop": "京港澳服务站", "eta": 17, "phone": "0371-5550100"}
    assert rows[0].link == f"/assistance/{request_id}"


def test_the_driver_is_told_when_no_shop_took_the_job(client, session):
    response, driver = _ask(client, session, lat=45.0, lon=90.0)  # nobody within any radius

    assert response.get_json()["status"] == "escalated"
    assert {row.kind for row in _rows(session, driver)} == {"network.roadside_escalated"}
    request = session.get(AssistanceRequest, response.get_json()["id"])
    assert _rows(session, driver)[0].subject_id == str(request.id)


def test_after_a_booking_the_app_is_told_which_wechat_templates_to_ask_for(app, client, session):
    shop = make_shop(session)
    driver, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    templates = {"network.booking_confirmed": "TPL-ANSWER", "network.booking_rejected": "TPL-ANSWER"}
    app.extensions[WECHAT_KEY] = WechatSender("wx-app", "secret", templates)
    body = {"shop": shop.code, "vin": vehicle.vin, "service": "repair", "start": next_slot().isoformat()}

    made = client.post("/api/v1/bookings", json=body, headers=auth_header(session, driver)).get_json()
    grants = client.post(
        "/api/v1/notifications/wechat-grants", json={"openid": "o-driver", "template_ids": made["wechat_subscribe"]},
        headers=auth_header(session, driver),
    )  # fmt: skip
    staff = make_user(session, Role.SHOP_STAFF, organization=shop.organization)
    client.post(f"/api/v1/bookings/{made['id']}/confirm", headers=auth_header(session, staff))

    assert made["wechat_subscribe"] == ["TPL-ANSWER"]
    assert grants.status_code == 201
    assert [row.channel for row in _rows(session, driver)] == [INBOX, SMS, WECHAT]
