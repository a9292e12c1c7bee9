"""Reviews pages over the test client: translated, role-checked, and the review form's errors name the field."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from sqlalchemy import func, select

from app.db import SESSIONMAKER_KEY, utcnow
from app.jobs import QUEUE_KEY, execute_job
from app.security import Role
from reviews.models import Review, ReviewReply
from tests.factories import make_driver, make_user
from tests.factories import sign_in_client as sign_in
from tests.reviews.factories import make_booking, make_shop, make_shop_staff, write_review

ROOT = Path(__file__).resolve().parents[2]


def test_catalogue_translates_every_reviews_string():
    with (ROOT / "reviews/translations/zh/LC_MESSAGES/messages.po").open("rb") as handle:
        translated = {message.id for message in read_po(handle) if message.id and message.string}
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    found = {
        message if isinstance(message, str) else message[0]
        for _file, _line, message, _comments, _context in extract_from_dir(ROOT / "reviews", method_map)
    }

    assert found - translated == set()


def test_shop_reviews_page_is_chinese_by_default(client, session):
    shop = make_shop(session)
    write_review(session, shop, 5)

    response = client.get(f"/shops/{shop.code}/reviews")

    assert response.status_code == 200
    assert "配件诚信" in response.text
    assert 'class="bar"' in response.text


def test_shop_reviews_page_in_english(client, session):
    shop = make_shop(session)

    response = client.get(f"/shops/{shop.code}/reviews?lang=en")

    assert "Honesty about parts" in response.text
    assert "No reviews yet." in response.text


def test_review_form_publishes(client, session):
    user, customer = make_driver(session)
    booking = make_booking(session, make_shop(session), customer)
    token = sign_in(client, user)
    form = {
        "csrf_token": token,
        "text": "好",
        **dict.fromkeys(["overall", "quality", "price", "timeliness", "honesty"], "4"),
    }

    response = client.post(f"/bookings/{booking.id}/review", data=form)

    assert response.status_code == 302
    assert session.scalar(select(func.count()).select_from(Review)) == 1


def test_review_form_missing_stars_names_field(client, session):
    user, customer = make_driver(session)
    booking = make_booking(session, make_shop(session), customer)
    token = sign_in(client, user)

    response = client.post(f"/bookings/{booking.id}/review?lang=en", data={"csrf_token": token, "overall": "9"})

    assert response.status_code == 400
    assert 'data-field="overall"' in response.text
    assert session.scalar(select(func.count()).select_from(Review)) == 0


def test_review_form_without_csrf_is_forbidden(client, session):
    user, customer = make_driver(session)
    booking = make_booking(session, make_shop(session), customer)
    sign_in(client, user)

    response = client.post(f"/bookings/{booking.id}/review", data={"overall": "5"})

    assert response.status_code == 403


def test_my_reviews_lists_completed_bookings(client, session):
    user, customer = make_driver(session)
    make_booking(session, make_shop(session), customer)
    sign_in(client, user)

    response = client.get("/my/reviews?lang=en")

    assert "Write a review" in response.text


def test_reply_box_for_own_staff_only(client, session):
    shop = make_shop(session)
    review = write_review(session, shop, 3)
    staff = make_shop_staff(session, shop)
    token = sign_in(client, staff)

    page = client.get(f"/shops/{shop.code}/reviews")
    posted = client.post(f"/reviews/{review.id}/reply", data={"csrf_token": token, "text": "谢谢"})

    assert "reply-box" in page.text
    assert posted.status_code == 302
    assert session.scalar(select(func.count()).select_from(ReviewReply)) == 1


def test_board_queues_the_evaluation_shows_it_waiting_then_its_result(app, client, session):
    write_review(session, make_shop(session), 5)
    token = sign_in(client, make_user(session, Role.OEM_ADMIN))

    response = client.post("/certification/board?lang=en", data={"csrf_token": token, "action": "evaluate"})
    [(run_id, name, _eta)] = app.extensions[QUEUE_KEY].submitted
    waiting = client.get(response.headers["Location"])
    execute_job(app.extensions[SESSIONMAKER_KEY], app.config, name, run_id=run_id, extras=app.extensions)
    done = client.get(f"/certification/board?lang=en&run={run_id}")

    assert response.status_code == 302 and name == "reviews.evaluate_certification"
    assert 'id="run-progress"' in waiting.text and 'http-equiv="refresh"' in waiting.text
    assert 'id="run-result"' in done.text and 'http-equiv="refresh"' not in done.text


def test_board_for_driver_is_forbidden(client, session):
    user, _customer = make_driver(session)
    sign_in(client, user)

    assert client.get("/certification/board").status_code == 403


def test_review_form_of_another_drivers_booking_is_not_found(client, session):
    booking = make_booking(session, make_shop(session))
    stranger, _customer = make_driver(session)
    sign_in(client, stranger)

    response = client.get(f"/bookings/{booking.id}/review")

    assert response.status_code == 404
    assert booking.shop.name not in response.text


def test_review_form_of_a_reviewed_booking_shows_the_review_not_the_form(client, session):
    driver = make_driver(session)
    review = write_review(session, make_shop(session), driver=driver, service="tyres")
    sign_in(client, driver[0])

    response = client.get(f"/bookings/{review.booking_id}/review")

    assert 'id="already-reviewed"' in response.text
    assert 'id="review-form"' not in response.text
    assert "轮胎" in response.text


def test_review_form_after_the_window_says_it_closed_instead_of_offering_the_form(client, session):
    user, customer = make_driver(session)
    booking = make_booking(session, make_shop(session), customer, completed_at=utcnow() - timedelta(days=31))
    sign_in(client, user)

    response = client.get(f"/bookings/{booking.id}/review?lang=en")

    assert 'id="review-window-closed"' in response.text and "30 days" in response.text
    assert 'id="review-form"' not in response.text


def test_my_bookings_links_only_bookings_still_open_for_review(client, session):
    user, customer = make_driver(session)
    shop = make_shop(session)
    recent = make_booking(session, shop, customer, completed_at=utcnow() - timedelta(days=2))
    old = make_booking(session, shop, customer, completed_at=utcnow() - timedelta(days=45))
    sign_in(client, user)

    page = client.get("/bookings/mine").text

    assert f"/bookings/{recent.id}/review" in page
    assert f"/bookings/{old.id}/review" not in page
