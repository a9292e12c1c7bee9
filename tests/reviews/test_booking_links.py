"""The review link on a driver's booking comes from reviews' own rule, registered with network."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from app.db import utcnow
from tests.factories import make_driver, sign_in_client
from tests.reviews.factories import make_booking, make_shop

NETWORK = Path(__file__).resolve().parents[2] / "network"


@pytest.mark.parametrize(("days_ago", "shown"), [(1, True), (29, True), (31, False)])
def test_booking_page_links_to_the_review_form_only_inside_the_window(app, client, session, days_ago, shown):
    user, customer = make_driver(session)
    booking = make_booking(session, make_shop(session), customer, completed_at=utcnow() - timedelta(days=days_ago))
    sign_in_client(client, user)

    page = client.get("/bookings/mine").get_data(as_text=True)

    assert (f"/bookings/{booking.id}/review" in page) is shown
    assert ("review-link" in page) is shown


def test_network_names_nothing_of_reviews():
    sources = [path for path in NETWORK.rglob("*") if path.suffix in {".py", ".html", ".js"}]
    offending = [
        str(path.relative_to(NETWORK))
        for path in sources
        if re.search(r"\breviews\.|REVIEW_", path.read_text(encoding="utf-8"))
    ]

    assert offending == []
