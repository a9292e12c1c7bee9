"""Double clicks: the same answer posted twice at once is one record, two accepts at once are one and a 409."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.db import make_sessionmaker, utcnow
from app.security import User
from community.answers import accept_answer, post_answer
from community.models import Answer, Question
from tests.community.factories import SETTINGS, make_answer, make_poster, make_question
from tests.races import interleave, race

pytestmark = pytest.mark.slow


def _thread(committed_engine, answers: int = 0) -> tuple[int, int, list[int]]:
    with make_sessionmaker(committed_engine)() as setup:
        asker, helper = make_poster(setup), make_poster(setup)
        question = make_question(setup, asker)
        answer_ids = [make_answer(setup, question, helper, body=f"回答{number}").id for number in range(answers)]
        ids = (asker.id, helper.id, question.id)
        setup.commit()
    return ids[0] if answers else ids[1], ids[2], answer_ids


def test_the_same_answer_posted_twice_at_once_is_one_record_and_a_conflict(committed_engine):
    helper_id, question_id, _answers = _thread(committed_engine)

    def post(session) -> None:
        question = session.get(Question, question_id)
        post_answer(session, session.get(User, helper_id), question, "换机油压力传感器", SETTINGS, utcnow())

    outcomes = interleave(committed_engine, post, post)

    assert outcomes == {"first": "ok", "second": "conflict"}
    with make_sessionmaker(committed_engine)() as check:
        assert check.scalar(select(func.count()).select_from(Answer).where(Answer.question_id == question_id)) == 1


def test_two_accepts_at_once_give_one_accepted_answer_and_a_conflict(committed_engine):
    asker_id, question_id, (first_id, second_id) = _thread(committed_engine, answers=2)

    def accept(answer_id: int):
        return lambda session: accept_answer(
            session, session.get(User, asker_id), session.get(Answer, answer_id), utcnow()
        )

    outcomes = interleave(committed_engine, accept(first_id), accept(second_id))

    assert outcomes == {"first": "ok", "second": "conflict"}
    with make_sessionmaker(committed_engine)() as check:
        accepted = check.scalars(select(Answer.id).where(Answer.accepted_at.is_not(None))).all()
        assert accepted == [first_id]


def test_five_accepts_at_the_same_moment_accept_exactly_one(committed_engine):
    asker_id, question_id, answer_ids = _thread(committed_engine, answers=5)

    def prepare(session, answer_id: int):
        asker, answer = session.get(User, asker_id), session.get(Answer, answer_id)
        answer.question  # noqa: B018 - loaded before the barrier, like a request that read the page
        return lambda: accept_answer(session, asker, answer, utcnow())

    outcomes = race(make_sessionmaker(committed_engine), prepare, [(answer_id,) for answer_id in answer_ids])

    assert sorted(outcomes) == ["conflict"] * 4 + ["ok"]
    with make_sessionmaker(committed_engine)() as check:
        assert check.scalar(select(func.count()).select_from(Answer).where(Answer.accepted_at.is_not(None))) == 1
