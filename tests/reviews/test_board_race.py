"""Two OEM staff approve the same pending certification change at the same moment: one change, not two."""

from __future__ import annotations

from sqlalchemy import func, select

from app.db import make_sessionmaker, utcnow
from app.security import Role, User
from app.signing import KeyRing
from network.models import Shop
from reviews.certification import override_tier
from reviews.models import CertificationChange, CertificationState
from reviews.settings import DEFAULT_THRESHOLDS, parse_thresholds
from tests.conftest import TEST_KEYS
from tests.factories import make_user
from tests.network.factories import make_shop
from tests.races import interleave

THRESHOLDS = parse_thresholds(DEFAULT_THRESHOLDS)


def test_two_approvals_of_one_pending_change_make_one_change(committed_engine):
    sessions = make_sessionmaker(committed_engine)
    with sessions() as setup:
        shop = make_shop(setup)
        setup.add(
            CertificationState(
                shop_id=shop.id, tier="certified", pending_tier="watch", pending_count=1, pending_reason="", kpis={}
            )
        )
        staff = [make_user(setup, Role.OEM_ADMIN).id for _ in range(2)]
        shop_id = shop.id
        setup.commit()

    def approve(user_id: int):
        def act(session):
            override_tier(
                session,
                session.get(User, user_id),
                session.get(Shop, shop_id),
                "watch",
                "两位经理同时批准这项变更",
                THRESHOLDS,
                KeyRing.from_spec(TEST_KEYS),
                utcnow(),
            )

        return act

    outcomes = interleave(committed_engine, approve(staff[0]), approve(staff[1]))

    assert outcomes == {"first": "ok", "second": "conflict"}
    with sessions() as check:
        changes = select(func.count()).select_from(CertificationChange).where(CertificationChange.shop_id == shop_id)
        assert check.scalar(changes) == 1
