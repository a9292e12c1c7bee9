"""A shop's plaque page for its staff: the plaque in force, the A5 print view, a re-issue request the OEM acts on."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.crm.models import ActivityEntry
from app.db import utcnow
from app.errors import InvalidInput
from app.security import Role
from app.signing import KeyRing
from reviews.models import CertificationState, PlaqueRequest
from reviews.pages import name_size_class
from reviews.plaques import active_plaque, find_open_request, issue_plaque, plaque_svg, request_reissue
from tests.conftest import TEST_KEYS
from tests.factories import make_user, sign_in_client
from tests.reviews.factories import make_shop, make_shop_staff

LONG_NAME = "河南省郑州市中原区连霍高速郑州西收费站北侧重型卡车综合维修保养与道路救援服务中心"


def certified_shop(session, **overrides):
    shop = make_shop(session, **overrides)
    session.merge(CertificationState(shop_id=shop.id, tier="gold", kpis={}))
    issue_plaque(session, KeyRing.from_spec(TEST_KEYS), shop, None, utcnow())
    return shop


def signed_in(client, user):
    client.csrf = sign_in_client(client, user)
    return client


def test_request_reissue_twice_keeps_one_open_request_and_logs_it(session):
    shop = certified_shop(session)
    staff = make_shop_staff(session, shop)

    first = request_reissue(session, staff, shop, "damaged", "招牌被风吹落", utcnow())
    second = request_reissue(session, staff, shop, "lost", "", utcnow())

    assert first.id == second.id and first.reason == "damaged"
    count = select(func.count()).select_from(PlaqueRequest).where(PlaqueRequest.shop_id == shop.id)
    assert session.scalar(count) == 1
    logged = session.scalars(select(ActivityEntry).where(ActivityEntry.action == "reviews.plaque_reissue_requested"))
    assert [(entry.actor_id, entry.subject_id) for entry in logged] == [(staff.id, shop.code)]


def test_request_reissue_refuses_an_unknown_reason(session):
    shop = certified_shop(session)

    with pytest.raises(InvalidInput) as refused:
        request_reissue(session, make_shop_staff(session, shop), shop, "bored", "", utcnow())

    assert refused.value.field == "reason"


def test_issuing_the_plaque_closes_the_open_request(session):
    shop = certified_shop(session)
    request_reissue(session, make_shop_staff(session, shop), shop, "moved", "", utcnow())
    oem = make_user(session, Role.OEM_ADMIN)

    plaque = issue_plaque(session, KeyRing.from_spec(TEST_KEYS), shop, oem, utcnow())

    assert find_open_request(session, shop) is None
    closed = session.scalar(select(PlaqueRequest).where(PlaqueRequest.shop_id == shop.id))
    assert (closed.plaque_number, closed.resolved_by_id) == (plaque.number, oem.id)


def test_staff_plaque_page_shows_the_plaque_tier_in_words_and_score(client, session):
    shop = certified_shop(session, name=LONG_NAME)
    signed_in(client, make_shop_staff(session, shop))

    page = client.get(f"/shops/{shop.code}/plaque/manage", headers={"Accept-Language": "zh"}).get_data(as_text=True)

    assert LONG_NAME in page
    assert 'id="plaque-number">1<' in page
    assert 'id="plaque-tier">金牌<' in page
    assert 'id="reissue-form"' in page


def test_print_view_is_one_a5_page_with_the_whole_name_and_the_qr_code(client, session):
    shop = certified_shop(session, name=LONG_NAME)
    signed_in(client, make_shop_staff(session, shop))

    page = client.get(f"/shops/{shop.code}/plaque/print", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    with client.get("/static/reviews/plaque-print.css") as response:
        css = response.get_data(as_text=True)

    assert f'<h1 class="plaque-name name-small" id="plaque-name">{LONG_NAME}</h1>' in page
    assert "<path d=" in page and active_plaque(session, shop).tag in page
    assert "size: A5" in css and "text-overflow" not in css


def test_another_shops_staff_gets_404_on_every_plaque_page(client, session):
    shop = certified_shop(session)
    signed_in(client, make_shop_staff(session, make_shop(session)))

    pages = [client.get(f"/shops/{shop.code}/plaque/{view}").status_code for view in ("manage", "print")]
    posted = client.post(
        f"/shops/{shop.code}/plaque/reissue-request", data={"reason": "lost", "csrf_token": client.csrf}
    )

    assert pages == [404, 404]
    assert posted.status_code == 404
    assert find_open_request(session, shop) is None


def test_staff_request_shows_on_the_board_and_the_oem_reissues(client, session):
    shop = certified_shop(session)
    signed_in(client, make_shop_staff(session, shop))
    sent = client.post(
        f"/shops/{shop.code}/plaque/reissue-request", data={"reason": "name_changed", "csrf_token": client.csrf}
    )
    signed_in(client, make_user(session, Role.OEM_ADMIN))

    board = client.get("/certification/board", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    reissued = client.post(
        "/certification/board", data={"action": "reissue", "shop": shop.code, "csrf_token": client.csrf}
    )

    assert sent.status_code == 302
    assert f'<tr data-shop="{shop.code}"><td>' in board.split('id="plaque-requests"')[1]
    assert "服务站已更名" in board
    assert reissued.status_code == 302
    assert active_plaque(session, shop).number == 2
    assert find_open_request(session, shop) is None


def test_request_with_a_bad_reason_names_the_field_on_the_page(client, session):
    shop = certified_shop(session)
    signed_in(client, make_shop_staff(session, shop))

    response = client.post(
        f"/shops/{shop.code}/plaque/reissue-request", data={"reason": "x", "csrf_token": client.csrf}
    )

    assert response.status_code == 400
    assert 'data-field="reason"' in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("name", "size"),
    [("郑州东站", "name-large"), ("郑州东站重卡维修服务中心分店", "name-medium"), (LONG_NAME, "name-small")],
)
def test_name_size_shrinks_long_names(name, size):
    assert name_size_class(name) == size


def test_printable_svg_shows_the_whole_long_name_on_lines_within_the_plaque(session):
    shop = certified_shop(session, name=LONG_NAME)

    svg = plaque_svg(shop, active_plaque(session, shop), "http://x", "金牌 Gold")

    texts = re.findall(r'font-size="([\d.]+)" font-weight="normal">([^<]+)</text>', svg)
    name_lines = [(float(size), text) for size, text in texts if text in LONG_NAME]
    assert "".join(text for _size, text in name_lines) == LONG_NAME
    assert len(name_lines) > 1 and all(len(text) * size <= 128 for size, text in name_lines)
