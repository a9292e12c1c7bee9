"""Certification reasons in words: every reason the state machine writes reads as a sentence in zh and in en."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from app.security import Role
from reviews.models import CertificationChange, CertificationState
from reviews.tiers import Tier, propose_tier
from reviews.wording import reason_text, tier_text
from tests.factories import make_user, sign_in_client
from tests.reviews.factories import CERTIFICATION_NOW as NOW
from tests.reviews.factories import EVIDENCE, THRESHOLDS, make_shop

SHORT = EVIDENCE["candidate"]
PAST = NOW - timedelta(days=1)


def shop_on_watch(session):
    """Return a shop moved to watch by an evaluation, with probation pending, and the reason of both."""
    shop = make_shop(session)
    reason = propose_tier(Tier.CERTIFIED, SHORT, THRESHOLDS, NOW, None).reason
    state = CertificationState(
        shop_id=shop.id, tier="watch", pending_tier="probation", pending_count=1, pending_reason=reason, kpis={}
    )
    change = CertificationChange(
        shop_id=shop.id, from_tier="certified", to_tier="watch", kind="evaluation", reason=reason, kpis={}
    )
    session.add_all([state, change])
    session.flush()
    return shop, reason


def every_reason() -> list[str]:
    """Return the reason of every step the state machine can propose from every tier."""
    reasons = set()
    for tier in Tier:
        for kpis in EVIDENCE.values():
            for deadline in (None, PAST):
                reasons.add(propose_tier(tier, kpis, THRESHOLDS, NOW, deadline).reason)
    return sorted(reasons)


@pytest.mark.parametrize("reason", every_reason())
def test_reason_text_says_every_reason_in_chinese(app, reason):
    with app.test_request_context("/?lang=zh"):
        text = reason_text(reason)

    assert not re.search(r"[A-Za-z_]{3,}", text), text
    assert re.search(r"[\u4e00-\u9fff]", text)


@pytest.mark.parametrize("reason", every_reason())
def test_reason_text_says_every_reason_in_english_words(app, reason):
    with app.test_request_context("/?lang=en"):
        text = reason_text(reason)

    assert "_" not in text and "<" not in text and ">" not in text, text
    assert not re.search(r"[\u4e00-\u9fff]", text)


def test_reason_text_gives_the_figures_as_people_read_them(app):
    reason = propose_tier(Tier.CERTIFIED, SHORT, THRESHOLDS, NOW, None).reason

    with app.test_request_context("/?lang=zh"):
        text = reason_text(reason)

    assert text.startswith("未达到认证标准：")
    assert "正品率 0% 低于 60%" in text
    assert "评分 3.8 低于 4.0" in text
    assert "道路救援响应时间 45 分钟 高于 30 分钟" in text


def test_reason_text_keeps_a_written_override_as_it_was_written(app):
    with app.test_request_context("/?lang=en"):
        assert reason_text("区域经理现场核查后确认") == "区域经理现场核查后确认"


def test_tier_text_names_each_tier_in_the_page_language(app):
    with app.test_request_context("/?lang=zh"):
        names = {tier_text(tier) for tier in Tier}

    assert len(names) == len(Tier) and all(re.search(r"[\u4e00-\u9fff]", name) for name in names)


def test_certification_api_keeps_the_code_and_adds_the_text(client, session):
    shop, reason = shop_on_watch(session)

    body = client.get(f"/api/v1/shops/{shop.code}/certification", headers={"Accept-Language": "zh"}).get_json()

    assert body["pending"]["reason"] == reason
    assert "正品率 0% 低于 60%" in body["pending"]["reason_text"]
    assert body["history"][0]["reason"] == reason
    assert body["history"][0]["reason_text"].startswith("未达到认证标准")


def test_board_and_public_pages_show_reasons_in_words(client, session):
    shop, _reason = shop_on_watch(session)

    public = client.get(f"/shops/{shop.code}/reviews?lang=zh").get_data(as_text=True)
    sign_in_client(client, make_user(session, Role.OEM_ADMIN))
    board = client.get("/certification/board?lang=zh").get_data(as_text=True)

    for page in (public, board):
        assert "正品率 0% 低于 60%" in page
        assert "genuine_part_ratio" not in re.sub(r'data-reason="[^"]*"', "", page)
