"""The issue's "done when" story end to end: book, complete as the shop, review as the driver, see the score move
by the documented amount, run `milepost certify` and see tiers change with evidence, scan a plaque that verifies
and a forged one that does not."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import pytest

from app.db import utcnow
from reviews.models import CertificationState
from reviews.tiers import Tier
from tests.factories import auth_header, make_driver, make_vehicle
from tests.reviews.factories import make_shop, make_shop_staff, write_review

PRIOR_STRENGTH = 5


def test_story_review_certify_and_plaque(app, client, session):
    shop = make_shop(session, bays=3, open_24h=True, slot_minutes=60, services=["repair", "towing"])
    for days in range(1, 10):
        write_review(session, shop, 5, now=utcnow() - timedelta(days=3 * days), service="towing")
    session.add(CertificationState(shop_id=shop.id, tier=Tier.CANDIDATE, kpis={}))
    staff = auth_header(session, make_shop_staff(session, shop))
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    driver = auth_header(session, user)
    start = (utcnow() + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)

    booked = client.post(
        "/api/v1/bookings",
        json={"shop": shop.code, "vin": vehicle.vin, "service": "towing", "start": start.isoformat()},
        headers=driver,
    )
    assert booked.status_code == 201, booked.json
    for action in ("confirm", "check-in", "complete"):
        moved = client.post(f"/api/v1/bookings/{booked.json['id']}/{action}", json={}, headers=staff)
        assert moved.status_code == 200, moved.json
    before = client.get(f"/api/v1/shops/{shop.code}/score").json["overall"]
    reviewed = client.post(
        f"/api/v1/bookings/{booked.json['id']}/review",
        json={"overall": 1, "quality": 2, "price": 3, "timeliness": 2, "honesty": 4, "text": "Slow."},
        headers=driver,
    )
    after = client.get(f"/api/v1/shops/{shop.code}/score").json["overall"]

    assert booked.status_code == 201, booked.json
    assert reviewed.status_code == 201
    documented = (1 - before["score"]) / (PRIOR_STRENGTH + before["weight"] + 1)
    assert after["score"] - before["score"] == pytest.approx(documented, abs=2e-4)
    assert after["count"] == before["count"] + 1

    runner = app.test_cli_runner()
    first = runner.invoke(args=["certify"])
    second = runner.invoke(args=["certify"])

    assert first.exit_code == 0, first.output
    assert "1 changes pending confirmation" in first.output
    assert f"{shop.code}: candidate -> certified pending (1 of 2 runs;" in first.output
    assert first.output.count("evidence: rating") == 1
    assert f"{shop.code}: candidate -> certified" in second.output
    assert "evidence: rating" in second.output
    certification = client.get(f"/api/v1/shops/{shop.code}/certification").json
    assert certification["tier"] == "certified"
    assert certification["history"][0]["kpis"]["rating_count"] == 10

    plaque = client.get(f"/api/v1/shops/{shop.code}/plaque", headers=staff).json
    url = urlparse(plaque["url"])
    tag = parse_qs(url.query)["c"][0]
    genuine = client.get(url.path, query_string={"c": tag}, headers={"Accept": "application/json"}).json
    forged = client.get(url.path, query_string={"c": "A" + tag[1:][::-1]}, headers={"Accept": "application/json"}).json

    assert (genuine["status"], genuine["colour"], genuine["tier"]) == ("valid", "green", "certified")
    assert (forged["status"], forged["colour"]) == ("forged", "red")
