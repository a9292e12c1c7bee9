"""Answers: one accepted answer, by the asker only; the OEM-verified mark; an article drafted from it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.crm.models import ActivityEntry
from app.db import utcnow
from app.errors import Conflict, Forbidden
from app.security import Role
from community.answers import accept_answer, draft_article, post_answer, verify_answer
from community.questions import ask_question, question_to_dict
from knowledge.models import Article, ArticleLink, ArticleStatus
from tests.community.factories import SETTINGS, make_answer, make_poster, make_question
from tests.factories import auth_header, make_user


def test_only_the_asker_may_accept(client, session):
    asker, other = make_poster(session), make_poster(session)
    question = make_question(session, asker)
    answer = make_answer(session, question, other)

    refused = client.post(f"/api/v1/community/answers/{answer.id}/accept", headers=auth_header(session, other))
    accepted = client.post(f"/api/v1/community/answers/{answer.id}/accept", headers=auth_header(session, asker))

    assert refused.status_code == 403
    assert accepted.status_code == 200
    assert accepted.get_json()["accepted"] is True


def test_a_second_accept_on_the_same_question_is_a_conflict(session):
    asker, first_helper, second_helper = make_poster(session), make_poster(session), make_poster(session)
    question = make_question(session, asker)
    first, second = make_answer(session, question, first_helper), make_answer(session, question, second_helper)
    accept_answer(session, asker, first, utcnow())

    with pytest.raises(Conflict):
        accept_answer(session, asker, second, utcnow())

    assert question.solved_at is not None
    assert second.accepted_at is None


def test_accepted_answer_is_shown_first(session):
    asker, helper = make_poster(session), make_poster(session)
    question = make_question(session, asker)
    make_answer(session, question, helper, body="先来的回答")
    later = make_answer(session, question, helper, body="后来的好回答")
    accept_answer(session, asker, later, utcnow())

    shown = question_to_dict(question, None, with_answers=True)

    assert [answer["body"] for answer in shown["answers"]] == ["后来的好回答", "先来的回答"]
    assert shown["solved"] is True


def test_accept_by_someone_else_raises_forbidden(session):
    asker, other = make_poster(session), make_poster(session)
    answer = make_answer(session, make_question(session, asker), other)

    with pytest.raises(Forbidden):
        accept_answer(session, other, answer, utcnow())


def test_answer_to_a_held_question_is_refused(session):
    asker, helper = make_poster(session, trusted=False), make_poster(session)
    question = ask_question(session, asker, "转向沉重是什么原因", "", SETTINGS, utcnow())

    with pytest.raises(Conflict):
        post_answer(session, helper, question, "检查助力泵", SETTINGS, utcnow())


def test_oem_verified_answer_becomes_a_knowledge_article_draft_linked_to_the_code(client, session):
    asker, helper = make_poster(session), make_poster(session)
    oem = make_user(session, Role.OEM_ADMIN)
    question = ask_question(
        session, asker, "机油压力灯亮", "SPN 100 FMI 1", SETTINGS, utcnow(), codes=["SPN 100 FMI 1"], models=["HOWO TX"]
    )
    answer = post_answer(session, helper, question, "换了机油压力传感器就好了", SETTINGS, utcnow())
    headers = auth_header(session, oem)

    early = client.post(f"/api/v1/community/answers/{answer.id}/article", headers=headers)
    verified = client.post(f"/api/v1/community/answers/{answer.id}/verify", headers=headers)
    drafted = client.post(f"/api/v1/community/answers/{answer.id}/article", headers=headers)

    assert early.status_code == 409
    assert verified.get_json()["oem_verified"] is True
    assert drafted.status_code == 201
    article = session.scalar(select(Article).where(Article.slug == drafted.get_json()["slug"]))
    assert article.status == ArticleStatus.DRAFT
    assert "换了机油压力传感器就好了" in article.body["zh"]
    assert f"/community/questions/{question.id}" in article.body["zh"]
    linked = session.scalars(select(ArticleLink).where(ArticleLink.article_id == article.id))
    links = {(link.kind, link.value) for link in linked}
    assert links == {("code", "100/1"), ("model", "HOWO TX")}
    assert session.scalar(select(ActivityEntry.id).where(ActivityEntry.action == "community.article_drafted"))


def test_verify_is_for_oem_staff_only(client, session):
    asker, helper = make_poster(session), make_poster(session)
    answer = make_answer(session, make_question(session, asker), helper)

    response = client.post(f"/api/v1/community/answers/{answer.id}/verify", headers=auth_header(session, asker))

    assert response.status_code == 403
    with pytest.raises(Forbidden):
        verify_answer(session, asker, answer, utcnow())
    with pytest.raises(Forbidden):
        draft_article(session, asker, answer, "http://x/")
