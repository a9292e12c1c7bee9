"""Posting: a proven phone, review before publishing for new accounts and keyword hits, who sees held posts."""

from __future__ import annotations

import pytest

from app.db import utcnow
from app.errors import Forbidden, NotAuthenticated, NotFound
from app.security import Role
from community.models import HoldReason, PostStatus
from community.questions import ask_question, get_question, question_to_dict
from community.settings import community_settings
from tests.community.factories import SETTINGS, make_poster
from tests.factories import auth_header, make_organization, make_user, make_vehicle


def test_ask_by_anonymous_is_401_and_by_unproven_driver_403_naming_phone(client, session):
    unproven = make_user(session, Role.DRIVER)
    session.flush()

    anonymous = client.post("/api/v1/community/questions", json={"title": "机油压力低怎么办"})
    refused = client.post(
        "/api/v1/community/questions", json={"title": "机油压力低怎么办"}, headers=auth_header(session, unproven)
    )

    assert anonymous.status_code == 401
    assert refused.status_code == 403
    assert refused.get_json()["error"]["field"] == "phone"


def test_ask_by_driver_with_proven_phone_is_201(client, session):
    poster = make_poster(session)

    response = client.post(
        "/api/v1/community/questions",
        json={"title": "机油压力低怎么办", "body": "仪表报警", "codes": ["SPN 100 FMI 1"]},
        headers=auth_header(session, poster),
    )

    assert response.status_code == 201
    assert response.get_json()["status"] == "published"
    assert response.get_json()["tags"] == [{"kind": "code", "value": "100/1"}]


def test_ask_refuses_a_driver_account_without_a_customer_record_of_its_phone(session):
    unproven = make_user(session, Role.DRIVER)

    with pytest.raises(Forbidden):
        ask_question(session, unproven, "机油压力低怎么办", "", SETTINGS, utcnow())
    with pytest.raises(NotAuthenticated):
        ask_question(session, None, "机油压力低怎么办", "", SETTINGS, utcnow())


@pytest.mark.parametrize("trusted", [False, True])
def test_new_account_is_held_and_trusted_account_publishes(session, trusted):
    poster = make_poster(session, trusted=trusted)

    question = ask_question(session, poster, "转向沉重是什么原因", "", SETTINGS, utcnow())

    assert question.status == (PostStatus.PUBLISHED if trusted else PostStatus.HELD)
    assert question.hold_reason == (None if trusted else HoldReason.NEW_ACCOUNT)


def test_old_account_with_too_few_published_posts_is_held(session):
    poster = make_poster(session, trusted=False)
    poster.created_at = utcnow().replace(year=2020)

    question = ask_question(session, poster, "转向沉重是什么原因", "", SETTINGS, utcnow())

    assert question.status == PostStatus.HELD


@pytest.mark.parametrize("text", ["违禁词", "违 禁 词", "违*禁*词", "ＶＸ：违禁词", "加 V 信 聊"])
def test_keyword_hit_holds_even_a_trusted_post(session, text):
    poster = make_poster(session)

    question = ask_question(session, poster, "请问这个配件", f"内容 {text} 结束", SETTINGS, utcnow())

    assert question.status == PostStatus.HELD
    assert question.hold_reason == HoldReason.KEYWORD
    assert question.held_terms


def test_keyword_list_comes_from_the_configured_file(session, tmp_path):
    words = tmp_path / "words.txt"
    words.write_text("# OEM lexicon\n山寨滤芯\n", encoding="utf-8")
    settings = community_settings({**_defaults(), "COMMUNITY_KEYWORDS_FILE": str(words)})
    poster = make_poster(session)

    held = ask_question(session, poster, "哪里有山寨滤芯", "", settings, utcnow())
    passed = ask_question(session, poster, "哪里有违禁词", "", settings, utcnow())

    assert held.held_terms == "山寨滤芯"
    assert passed.status == PostStatus.PUBLISHED


def test_held_question_is_seen_by_its_author_and_the_oem_only(session):
    author = make_poster(session, trusted=False)
    other = make_poster(session)
    oem = make_user(session, Role.OEM_ADMIN)
    question = ask_question(session, author, "转向沉重是什么原因", "", SETTINGS, utcnow())

    assert get_question(session, author, question.id) is question
    assert get_question(session, oem, question.id) is question
    for stranger in (other, None):
        with pytest.raises(NotFound):
            get_question(session, stranger, question.id)


def test_held_question_is_not_listed_to_other_drivers(client, session):
    author = make_poster(session, trusted=False)
    other = make_poster(session)
    question = ask_question(session, author, "转向沉重是什么原因", "", SETTINGS, utcnow())

    theirs = client.get("/api/v1/community/questions?q=转向沉重", headers=auth_header(session, other)).get_json()
    mine = client.get("/api/v1/community/questions?q=转向沉重", headers=auth_header(session, author)).get_json()
    direct = client.get(f"/api/v1/community/questions/{question.id}", headers=auth_header(session, other))

    assert theirs["items"] == []
    assert [item["id"] for item in mine["items"]] == [question.id]
    assert mine["items"][0]["status"] == "held"
    assert direct.status_code == 404


def test_post_shows_the_province_and_never_name_or_phone(session):
    poster = make_poster(session)
    make_vehicle(session, owner=poster_customer(session, poster), province="Henan")

    question = ask_question(session, poster, "尿素泵不工作", "请回电 13812345678", SETTINGS, utcnow())
    shown = question_to_dict(question, None)

    assert shown["poster"] == {"kind": "driver", "province": "Henan", "province_zh": "河南", "is_you": False}
    assert "13812345678" not in str(shown) and "138****5678" in shown["body"]
    assert poster.display_name not in str(shown) and poster.phone not in str(shown)


def test_province_comes_from_the_ip_table_when_one_is_configured(session, tmp_path):
    table = tmp_path / "ip.csv"
    table.write_text("10.1.0.0/16,河南\n10.0.0.0/8,北京\n", encoding="utf-8")
    settings = community_settings({**_defaults(), "COMMUNITY_IP_PROVINCES_FILE": str(table)})
    staff = make_user(session, Role.SHOP_STAFF, organization=make_organization(session, kind="shop", province="Hubei"))

    from_ip = ask_question(session, staff, "请教一个电路问题", "", settings, utcnow(), client="10.1.2.3")
    from_organization = ask_question(session, staff, "请教另一个问题", "", settings, utcnow(), client="192.0.2.1")

    assert from_ip.province == "Henan"
    assert from_organization.province == "Hubei"


def poster_customer(session, user):
    from app.crm.customers import find_customer_for_user

    return find_customer_for_user(session, user)


def _defaults() -> dict:
    from app.config import DEFAULTS

    return dict(DEFAULTS)


def test_a_drivers_question_is_a_crm_touchpoint(session):
    # Issue 14 item 1: a community question shows intent; the leads domain takes it from the core's touchpoints.
    from sqlalchemy import select

    from app.crm.touchpoints import Touchpoint

    poster = make_poster(session)

    question = ask_question(session, poster, "尿素泵不工作怎么办", "", SETTINGS, utcnow())

    touchpoint = session.scalar(select(Touchpoint).where(Touchpoint.source_id == str(question.id)))
    assert touchpoint is not None and touchpoint.channel == "forum"
