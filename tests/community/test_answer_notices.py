"""The asker is told when their question gets a published answer from someone else, once."""

from __future__ import annotations

from sqlalchemy import select

from app.crm.models import Notification
from app.db import utcnow
from app.security import Role
from community.answers import post_answer, tell_asker
from community.moderation import moderate_post
from tests.community.factories import SETTINGS, make_poster, make_question
from tests.factories import make_user


def _told(session, user):
    return session.scalars(
        select(Notification).where(Notification.user_id == user.id, Notification.kind == "community.answered")
    ).all()


def test_the_asker_is_told_of_an_answer_once(session):
    asker, helper = make_poster(session), make_poster(session)
    question = make_question(session, asker)

    answer = post_answer(session, helper, question, "先检查燃油滤清器是否堵塞。", SETTINGS, utcnow())
    tell_asker(session, answer, utcnow())

    rows = _told(session, asker)
    assert len(rows) == 1
    assert rows[0].link == f"/community/questions/{question.id}"


def test_a_held_answer_is_told_when_it_is_published(session):
    asker, newcomer = make_poster(session), make_poster(session, trusted=False)
    question = make_question(session, asker)
    answer = post_answer(session, newcomer, question, "可能是喷油嘴的问题，建议检查。", SETTINGS, utcnow())
    held = _told(session, asker)

    moderate_post(session, make_user(session, Role.OEM_ADMIN), answer, "publish", "", utcnow())

    assert answer.status == "published"
    assert held == []
    assert len(_told(session, asker)) == 1


def test_answering_ones_own_question_tells_nobody(session):
    asker = make_poster(session)
    question = make_question(session, asker)

    post_answer(session, asker, question, "自己解决了：换了机油滤清器。", SETTINGS, utcnow())

    assert _told(session, asker) == []
