"""Two staff of one shop (or one double click) ask for a new plaque at the same moment: one open request."""

from __future__ import annotations

from sqlalchemy import func, select

from app.crm.models import ActivityEntry
from app.db import make_sessionmaker, utcnow
from app.security import User
from network.models import Shop
from reviews.models import PlaqueRequest
from reviews.plaques import request_reissue
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
