"""The shop console: it refreshes itself, signals waiting roadside offers, confirms every action, asks before
destructive ones, offers no no-show before the slot, and links to the shop's reviews."""

from __future__ import annotations

from datetime import timedelta

from app.db import utcnow
from network.models import AssistanceOffer, BookingStatus
from tests.factories import make_driver, sign_in_client
from tests.network.factories import make_assistance_request, make_shop
from tests.reviews.factories import make_booking, make_shop_staff

ZH = {"Accept-Language": "zh-CN"}


def _booking_item(page: str, booking_id: int) -> str:
    return page.split(f'data-id="{booking_id}"')[1].split("</li>")[0]


def test_console_refreshes_itself_and_counts_waiting_offers_in_the_title(client, session):
    shop = make_shop(session)
    request = make_assistance_request(session)
    session.add(AssistanceOffer(request_id=request.id, shop_id=shop.id, round=1, distance_km=4.0))
    session.flush()
    sign_in_client(client, make_shop_staff(session, shop))

    page = client.get("/console", headers=ZH).text

    assert '<meta http-equiv="refresh" content="30">' in page
    assert "<title>(1) " in page
    assert 'id="new-offers"' in page
    assert f"/console/assistance/{request.id}/accept" in page


def test_console_without_offers_has_no_badge(client, session):
    shop = make_shop(session)
    sign_in_client(client, make_shop_staff(session, shop))

    page = client.get("/console", headers=ZH).text

    assert "<title>(" not in page
    assert 'id="new-offers"' not in page


def test_no_show_is_offered_only_once_the_slot_has_started(client, session):
    shop = make_shop(session)
    coming = make_booking(session, shop, status=BookingStatus.CONFIRMED, start=utcnow() + timedelta(hours=3))
    started = make_booking(session, shop, status=BookingStatus.CONFIRMED, start=utcnow() - timedelta(minutes=10))
    sign_in_client(client, make_shop_staff(session, shop))

    page = client.get("/console").text

    assert "/no-show" not in _booking_item(page, coming.id)
    assert "/no-show" in _booking_item(page, started.id)


def test_destructive_steps_are_styled_and_ask_first(client, session):
    shop = make_shop(session)
    started = make_booking(session, shop, status=BookingStatus.CONFIRMED, start=utcnow() - timedelta(minutes=10))
    sign_in_client(client, make_shop_staff(session, shop))

    item = _booking_item(client.get("/console", headers=ZH).text, started.id)

    for action in ("reject", "no-show"):
        form = item.split(f"/{action}")[1].split("</form>")[0]
        assert "data-confirm=" in form and 'class="danger"' in form
    assert "data-confirm=" not in item.split("/check-in")[1].split("</form>")[0]


def test_an_action_on_the_console_is_confirmed_by_a_message(client, session):
    shop = make_shop(session)
    booking = make_booking(session, shop, status=BookingStatus.REQUESTED, start=utcnow() + timedelta(hours=3))
    csrf = sign_in_client(client, make_shop_staff(session, shop))

    response = client.post(f"/bookings/{booking.id}/confirm", data={"csrf_token": csrf, "next": "/console"})
    page = client.get(response.headers["Location"], headers=ZH).text

    assert response.headers["Location"] == "/console"
    assert "预约已确认。" in page


def test_a_shop_cannot_act_on_another_shops_booking(client, session):
    shop, other = make_shop(session), make_shop(session)
    booking = make_booking(session, other, status=BookingStatus.REQUESTED, start=utcnow() + timedelta(hours=3))
    csrf = sign_in_client(client, make_shop_staff(session, shop))

    response = client.post(f"/bookings/{booking.id}/reject", data={"csrf_token": csrf, "next": "/console"})

    assert response.status_code == 404
    session.refresh(booking)
    assert booking.status == BookingStatus.REQUESTED


def test_console_links_to_the_shops_reviews_with_the_reply_box(client, session):
    from tests.reviews.factories import write_review

    shop = make_shop(session)
    write_review(session, shop, 4, driver=make_driver(session))
    sign_in_client(client, make_shop_staff(session, shop))

    console = client.get("/console", headers=ZH).text
    reviews = client.get(f"/shops/{shop.code}/reviews", headers=ZH).text

    assert f'href="/shops/{shop.code}/reviews"' in console and "评价与回复" in console
    assert "reply-box" in reviews


def test_just_after_midnight_the_console_still_lists_last_nights_unfinished_bookings(client, session, monkeypatch):
    from datetime import datetime

    from tests.network.factories import ZONE

    midnight = datetime.combine(datetime.now(ZONE).date(), datetime.min.time(), tzinfo=ZONE)
    now = midnight + timedelta(minutes=5)
    monkeypatch.setattr("network.pages.console.utcnow", lambda: now)
    shop = make_shop(session)
    late = now - timedelta(hours=1, minutes=5)
    in_bay = make_booking(session, shop, status=BookingStatus.CHECKED_IN, start=late)
    done = make_booking(session, shop, status=BookingStatus.COMPLETED, start=late)
    sign_in_client(client, make_shop_staff(session, shop))

    page = client.get("/console", headers=ZH).text

    assert f"/bookings/{in_bay.id}/complete" in _booking_item(page, in_bay.id)
    assert f'data-id="{done.id}"' not in page
