"""The certification board page: paged and searchable, pending changes approved, overrides next to their shop."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.crm.models import ActivityEntry
from app.security import Role
from reviews.models import CertificationChange, CertificationState
from tests.factories import make_user, sign_in_client
from tests.network.factories import make_shop

REASON = "区域经理现场核查后确认"


@pytest.fixture
def oem_client(client, session):
    client.csrf = sign_in_client(client, make_user(session, Role.OEM_ADMIN))
    return client


def board_shop(session, name: str, tier: str = "certified", pending: str | None = None):
    shop = make_shop(session, name=name)
    session.add(
        CertificationState(
            shop_id=shop.id,
            tier=tier,
            pending_tier=pending,
            pending_count=1 if pending else 0,
            pending_reason="",
            kpis={},
        )
    )
    session.flush()
    return shop


def board_rows(response) -> list[str]:
    table = response.get_data(as_text=True).split('id="board"')[1]
    return re.findall(r'<tr data-shop="([^"]+)">', table)


def test_board_searches_shops_by_name_and_pages(session, oem_client):
    shops = [board_shop(session, name) for name in ("郑州东站", "郑州西站", "洛阳南站")]

    found = oem_client.get("/certification/board?q=郑州")
    first = oem_client.get("/certification/board?per_page=2")
    second = oem_client.get("/certification/board?per_page=2&page=2")

    assert sorted(board_rows(found)) == sorted(shop.code for shop in shops[:2])
    assert len(board_rows(first)) == 2 and len(board_rows(second)) == 1
    assert set(board_rows(first) + board_rows(second)) == {shop.code for shop in shops}


def test_approving_a_pending_change_moves_the_tier_and_logs_it(session, oem_client):
    shop = board_shop(session, "郑州东站", tier="certified", pending="watch")

    response = oem_client.post(
        "/certification/board",
        data={"csrf_token": oem_client.csrf, "action": "approve", "shop": shop.code, "tier": "watch", "reason": REASON},
    )

    assert response.status_code == 302
    state = session.get(CertificationState, shop.id)
    assert (state.tier, state.pending_tier) == ("watch", None)
    change = session.scalar(select(CertificationChange).where(CertificationChange.shop_id == shop.id))
    assert (change.from_tier, change.to_tier, change.reason) == ("certified", "watch", REASON)
    assert session.scalar(select(ActivityEntry.id).where(ActivityEntry.action == "reviews.certification_changed"))


def test_an_override_without_a_reason_is_shown_next_to_its_shop(session, oem_client):
    shop = board_shop(session, "郑州东站")
    board_shop(session, "洛阳南站")

    response = oem_client.post(
        "/certification/board",
        data={"csrf_token": oem_client.csrf, "action": "override", "shop": shop.code, "tier": "gold", "reason": "短"},
    )

    assert response.status_code == 400
    row = re.search(rf'<tr data-shop="{shop.code}">.*?</tr>', response.get_data(as_text=True), re.S).group(0)
    assert 'data-field="reason"' in row and "书面理由" in row
    assert session.get(CertificationState, shop.id).tier == "certified"
