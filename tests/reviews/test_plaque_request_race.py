"""Races on plaque re-issue requests: two asks at once make one request; an approval and a decline at once, one wins."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.crm.models import ActivityEntry
from app.db import make_sessionmaker, utcnow
from app.security import Role, User
from app.signing import KeyRing
from network.models import Shop
from reviews.models import Plaque, PlaqueRequest
from reviews.plaques import approve_request, decline_request, issue_plaque, request_reissue
from tests.conftest import TEST_KEYS
from tests.factories import make_user
from tests.network.factories import make_shop
from tests.races import interleave


def test_two_requests_at_once_make_one_open_request(committed_engine):
    sessions = make_sessionmaker(committed_engine)
    with sessions() as setup:
        shop = make_shop(setup)
        staff = [make_user(setup, "shop_staff", organization=shop.organization).id for _ in range(2)]
        shop_id = shop.id
        setup.commit()

    def ask(user_id: int, reason: str):
        def act(session):
            request_reissue(session, session.get(User, user_id), session.get(Shop, shop_id), reason, "", utcnow())

        return act

    outcomes = interleave(committed_engine, ask(staff[0], "lost"), ask(staff[1], "damaged"))

    assert outcomes == {"first": "ok", "second": "ok"}
    with sessions() as check:
        requests = check.scalars(select(PlaqueRequest).where(PlaqueRequest.shop_id == shop_id)).all()
        assert [(request.reason, request.open_shop_id) for request in requests] == [("lost", shop_id)]
        logged = (
            select(func.count())
            .select_from(ActivityEntry)
            .where(ActivityEntry.action == "reviews.plaque_reissue_requested")
        )
        assert check.scalar(logged) == 1


@pytest.mark.parametrize("order", ["approve first", "decline first"])
def test_approve_and_decline_at_once_decide_the_request_once(committed_engine, order):
    sessions = make_sessionmaker(committed_engine)
    ring = KeyRing.from_spec(TEST_KEYS)
    with sessions() as setup:
        shop = make_shop(setup)
        issue_plaque(setup, ring, shop, None, utcnow())
        staff = make_user(setup, "shop_staff", organization=shop.organization)
        oem_ids = [make_user(setup, Role.OEM_ADMIN).id for _ in range(2)]
        request_id = request_reissue(setup, staff, shop, "lost", "", utcnow()).id
        shop_id = shop.id
        setup.commit()

    def approve(session):
        approve_request(session, ring, session.get(User, oem_ids[0]), session.get(PlaqueRequest, request_id), utcnow())

    def decline(session):
        decline_request(
            session, session.get(User, oem_ids[1]), session.get(PlaqueRequest, request_id), "不需要", utcnow()
        )

    first, second = (approve, decline) if order == "approve first" else (decline, approve)
    outcomes = interleave(committed_engine, first, second)

    assert outcomes == {"first": "ok", "second": "conflict"}
    with sessions() as check:
        decided = check.get(PlaqueRequest, request_id)
        plaques = check.scalars(select(Plaque.number).where(Plaque.shop_id == shop_id).order_by(Plaque.number)).all()
        if order == "approve first":
            assert (decided.plaque_number, decided.decline_reason, plaques) == (2, None, [1, 2])
        else:
            assert (decided.plaque_number, decided.decline_reason, plaques) == (None, "不需要", [1])
        assert decided.open_shop_id is None
