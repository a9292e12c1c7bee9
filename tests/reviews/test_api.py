"""The reviews API: happy paths, every bad input as a clear 4xx naming the field, and no partial writes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.db import utcnow
from app.security import Role
from network.models import BookingStatus
from reviews.models import Review, ReviewModeration
from tests.factories import auth_header, make_driver, make_user
from tests.reviews.factories import make_booking, make_shop, make_shop_staff, write_review

STARS = {"overall": 5, "quality": 4, "price": 4, "timeliness": 5, "honesty": 5, "text": "Fast and fair."}


def review_count(session) -> int:
    return session.scalar(select(func.count()).select_from(Review))


@pytest.fixture
def booked(session):
    shop = make_shop(session)
    user, customer = make_driver(session)
    booking = make_booking(session, shop, customer)
    return shop, booking, auth_header(session, user)


def test_create_review_publishes_and_rescores(client, session, booked):
    shop, booking, headers = booked

    response = client.post(f"/api/v1/bookings/{booking.id}/review", json=STARS, headers=headers)
    session.expire_all()

    assert response.status_code == 201
    assert response.json["stars"]["overall"] == 5
    assert float(shop.rating) == pytest.approx(4.0 + 1 / 6, abs=0.005)
    assert shop.rating_count == 1


def test_create_review_writes_the_score_onto_the_shops_organization(client, session, booked):
    shop, booking, headers = booked

    client.post(f"/api/v1/bookings/{booking.id}/review", json=STARS, headers=headers)
    session.expire_all()

    assert (shop.organization.rating, shop.organization.rating_count) == (shop.rating, 1)


def test_create_review_someone_elses_booking_is_forbidden(client, session, booked):
    _shop, booking, _headers = booked
    other, _customer = make_driver(session)

    response = client.post(f"/api/v1/bookings/{booking.id}/review", json=STARS, headers=auth_header(session, other))

    assert response.status_code == 403
    assert response.json["error"]["field"] == "booking"
    assert review_count(session) == 0


@pytest.mark.parametrize(
    "status", [BookingStatus.REQUESTED, BookingStatus.CONFIRMED, BookingStatus.CHECKED_IN, BookingStatus.CANCELLED]
)
def test_create_review_of_unfinished_booking_conflicts(client, session, status):
    user, customer = make_driver(session)
    booking = make_booking(session, make_shop(session), customer, status=status)

    response = client.post(f"/api/v1/bookings/{booking.id}/review", json=STARS, headers=auth_header(session, user))

    assert response.status_code == 409
    assert response.json["error"]["field"] == "booking"
    assert review_count(session) == 0


def test_create_review_twice_conflicts(client, session, booked):
    _shop, booking, headers = booked
    client.post(f"/api/v1/bookings/{booking.id}/review", json=STARS, headers=headers)

    response = client.post(f"/api/v1/bookings/{booking.id}/review", json=STARS, headers=headers)

    assert response.status_code == 409
    assert review_count(session) == 1


def test_create_review_after_window_conflicts(client, session):
    user, customer = make_driver(session)
    booking = make_booking(session, make_shop(session), customer, completed_at=utcnow() - timedelta(days=31))

    response = client.post(f"/api/v1/bookings/{booking.id}/review", json=STARS, headers=auth_header(session, user))

    assert response.status_code == 409
    assert "30 days" in response.json["error"]["message"]


def test_create_review_unknown_booking_is_not_found(client, session):
    user, _customer = make_driver(session)

    response = client.post("/api/v1/bookings/999999/review", json=STARS, headers=auth_header(session, user))

    assert response.status_code == 404


@pytest.mark.parametrize(
    ("field", "value"),
    [("overall", 0), ("overall", 6), ("quality", -1), ("price", 4.5), ("honesty", "five"), ("timeliness", None)],
)
def test_create_review_stars_outside_range_name_the_field(client, session, booked, field, value):
    _shop, booking, headers = booked

    response = client.post(f"/api/v1/bookings/{booking.id}/review", json=STARS | {field: value}, headers=headers)

    assert response.status_code == 400
    assert response.json["error"]["field"] == field
    assert review_count(session) == 0


def test_create_review_missing_dimension_names_it(client, session, booked):
    _shop, booking, headers = booked
    body = {key: value for key, value in STARS.items() if key != "honesty"}

    response = client.post(f"/api/v1/bookings/{booking.id}/review", json=body, headers=headers)

    assert response.status_code == 400
    assert response.json["error"]["field"] == "honesty"


def test_create_review_oversized_text_names_the_field(client, session, booked):
    _shop, booking, headers = booked

    response = client.post(f"/api/v1/bookings/{booking.id}/review", json=STARS | {"text": "x" * 2001}, headers=headers)

    assert response.status_code == 400
    assert response.json["error"]["field"] == "text"
    assert review_count(session) == 0


def test_create_review_by_shop_staff_is_forbidden(client, session, booked):
    shop, booking, _headers = booked

    response = client.post(
        f"/api/v1/bookings/{booking.id}/review",
        json=STARS,
        headers=auth_header(session, make_shop_staff(session, shop)),
    )

    assert response.status_code == 403


def test_follow_up_once_within_period(client, session, booked):
    _shop, booking, headers = booked
    review_id = client.post(f"/api/v1/bookings/{booking.id}/review", json=STARS, headers=headers).json["id"]

    first = client.post(
        f"/api/v1/reviews/{review_id}/follow-up", json={"text": "Part failed.", "overall": 2}, headers=headers
    )
    second = client.post(f"/api/v1/reviews/{review_id}/follow-up", json={"text": "Again"}, headers=headers)

    assert first.status_code == 201
    assert first.json["follow_up"]["overall"] == 2
    assert second.status_code == 409


def test_follow_up_by_someone_else_is_forbidden(client, session, booked):
    _shop, booking, headers = booked
    review_id = client.post(f"/api/v1/bookings/{booking.id}/review", json=STARS, headers=headers).json["id"]
    other, _customer = make_driver(session)

    response = client.post(
        f"/api/v1/reviews/{review_id}/follow-up", json={"text": "x"}, headers=auth_header(session, other)
    )

    assert response.status_code == 403


def test_reply_by_own_shop_once(client, session, booked):
    shop, booking, headers = booked
    review_id = client.post(f"/api/v1/bookings/{booking.id}/review", json=STARS, headers=headers).json["id"]
    staff = auth_header(session, make_shop_staff(session, shop))

    first = client.post(f"/api/v1/reviews/{review_id}/reply", json={"text": "Thank you!"}, headers=staff)
    second = client.post(f"/api/v1/reviews/{review_id}/reply", json={"text": "Again"}, headers=staff)

    assert first.status_code == 201
    assert first.json["reply"]["text"] == "Thank you!"
    assert second.status_code == 409


def test_reply_to_review_of_another_shop_is_forbidden(client, session, booked):
    _shop, booking, headers = booked
    review_id = client.post(f"/api/v1/bookings/{booking.id}/review", json=STARS, headers=headers).json["id"]
    stranger = auth_header(session, make_shop_staff(session, make_shop(session)))

    response = client.post(f"/api/v1/reviews/{review_id}/reply", json={"text": "Lies!"}, headers=stranger)

    assert response.status_code == 403
    assert response.json["error"]["field"] == "review"


def test_hide_and_restore_are_logged_and_rescore(client, session):
    shop = make_shop(session)
    review = write_review(session, shop, 1)
    oem = auth_header(session, make_user(session, Role.OEM_ADMIN))

    hidden = client.post(f"/api/v1/reviews/{review.id}/hide", json={"reason": "abusive language"}, headers=oem)
    session.expire_all()
    rating_hidden = shop.rating
    restored = client.post(f"/api/v1/reviews/{review.id}/restore", json={"reason": "appeal upheld"}, headers=oem)
    session.expire_all()

    assert (hidden.status_code, restored.status_code) == (200, 200)
    assert rating_hidden is None
    assert float(shop.rating) < 4.0
    assert session.scalar(select(func.count()).select_from(ReviewModeration)) == 2


def test_hide_without_reason_names_the_field(client, session):
    review = write_review(session, make_shop(session))
    oem = auth_header(session, make_user(session, Role.OEM_ADMIN))

    response = client.post(f"/api/v1/reviews/{review.id}/hide", json={"reason": ""}, headers=oem)

    assert response.status_code == 400
    assert response.json["error"]["field"] == "reason"


def test_hide_by_driver_is_forbidden(client, session, booked):
    _shop, booking, headers = booked
    review_id = client.post(f"/api/v1/bookings/{booking.id}/review", json=STARS, headers=headers).json["id"]

    response = client.post(f"/api/v1/reviews/{review_id}/hide", json={"reason": "I regret it"}, headers=headers)

    assert response.status_code == 403


def test_list_reviews_newest_first_masked_public(client, session):
    shop = make_shop(session)
    now = utcnow()
    older = write_review(session, shop, 3, now=now - timedelta(days=2))
    newer = write_review(session, shop, 5, now=now)
    hidden = write_review(session, shop, 1, now=now - timedelta(days=1))
    hidden.is_hidden = True
    session.flush()

    response = client.get(f"/api/v1/shops/{shop.code}/reviews?per_page=10")

    assert [item["id"] for item in response.json["items"]] == [newer.id, older.id]
    assert response.json["items"][0]["driver"].endswith("*")
    assert "flags" not in response.json["items"][0]
    assert "network_percentile" in response.json["score"]


def test_list_reviews_shows_flags_to_oem(client, session):
    shop = make_shop(session)
    review = write_review(session, shop, 5)
    review.is_hidden = True
    session.flush()
    oem = auth_header(session, make_user(session, Role.OEM_ADMIN))

    response = client.get(f"/api/v1/shops/{shop.code}/reviews", headers=oem)

    assert response.json["items"][0]["hidden"] is True


def test_list_reviews_unknown_shop_is_not_found(client):
    response = client.get("/api/v1/shops/NOPE/reviews")

    assert response.status_code == 404
    assert response.json["error"]["field"] == "shop"


def test_list_reviews_pages(client, session):
    shop = make_shop(session)
    for days in range(3):
        write_review(session, shop, 4, now=utcnow() - timedelta(days=days * 40))

    response = client.get(f"/api/v1/shops/{shop.code}/reviews?per_page=2&page=2")

    assert (response.json["total"], len(response.json["items"])) == (3, 1)
