"""The driver's one follow-up to a review, from "my reviews"."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from app.crm.models import ActivityEntry
from app.db import utcnow
from tests.factories import make_driver, sign_in_client
from tests.reviews.factories import make_shop, write_review

ZH = {"Accept-Language": "zh-CN"}


def test_driver_adds_the_one_follow_up_from_my_reviews(client, session):
    driver = make_driver(session)
    review = write_review(session, make_shop(session), 5, driver=driver)
    csrf = sign_in_client(client, driver[0])

    before = client.get("/my/reviews", headers=ZH)
    response = client.post(
        f"/reviews/{review.id}/follow-up", data={"csrf_token": csrf, "text": "三个月后刹车还很好", "overall": "4"}
    )
    after = client.get(response.headers["Location"], headers=ZH)
    session.expire_all()

    assert f'id="follow-up-{review.id}"' in before.text
    assert response.status_code == 302
    assert review.follow_up.text == "三个月后刹车还很好" and review.follow_up.overall == 4
    assert "三个月后刹车还很好" in after.text
    assert f'id="follow-up-{review.id}"' not in after.text


def test_a_second_follow_up_is_refused_on_the_page_in_chinese(client, session):
    driver = make_driver(session)
    review = write_review(session, make_shop(session), 5, driver=driver)
    csrf = sign_in_client(client, driver[0])
    client.post(f"/reviews/{review.id}/follow-up", data={"csrf_token": csrf, "text": "第一次"})

    response = client.post(f"/reviews/{review.id}/follow-up", data={"csrf_token": csrf, "text": "第二次"}, headers=ZH)
    session.expire_all()

    assert response.status_code == 409
    assert 'role="alert"' in response.text
    assert review.follow_up.text == "第一次"


def test_follow_up_form_is_gone_after_the_follow_up_period(client, session):
    driver = make_driver(session)
    long_ago = utcnow() - timedelta(days=200)
    review = write_review(
        session, make_shop(session), 5, driver=driver, now=long_ago + timedelta(days=1), completed_at=long_ago
    )
    sign_in_client(client, driver[0])

    page = client.get("/my/reviews")

    assert f'id="follow-up-{review.id}"' not in page.text


def test_driver_cannot_follow_up_another_drivers_review(client, session):
    review = write_review(session, make_shop(session), 5)
    csrf = sign_in_client(client, make_driver(session)[0])

    response = client.post(f"/reviews/{review.id}/follow-up", data={"csrf_token": csrf, "text": "假的"})
    session.expire_all()

    assert response.status_code == 403
    assert review.follow_up is None


def test_the_follow_up_is_in_the_activity_log_as_the_drivers(client, session):
    driver = make_driver(session)
    review = write_review(session, make_shop(session), 5, driver=driver)
    csrf = sign_in_client(client, driver[0])

    client.post(f"/reviews/{review.id}/follow-up", data={"csrf_token": csrf, "text": "半年后还好", "overall": "4"})

    entry = session.scalar(select(ActivityEntry).where(ActivityEntry.action == "reviews.follow_up_added"))
    assert (entry.actor_id, entry.subject_type, entry.subject_id) == (driver[0].id, "review", str(review.id))
    assert entry.details["overall"] == 4
