"""Search shares the knowledge base's Chinese search: 机油压力 and 尿素 are found on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from app.db import utcnow
from community.questions import ask_question, search_questions
from tests.community.factories import SETTINGS, make_poster


@pytest.fixture
def threads(session):
    poster = make_poster(session)
    return {
        "oil": ask_question(session, poster, "机油压力灯亮了还能开吗", "油位正常", SETTINGS, utcnow()),
        "urea": ask_question(session, poster, "国六车报警限扭", "尿素液位够但一直报故障", SETTINGS, utcnow()),
        "tyre": ask_question(session, poster, "郑州附近换轮胎", "", SETTINGS, utcnow(), codes=["P20EE"]),
    }


@pytest.mark.parametrize(("query", "expected"), [("机油压力", ["oil"]), ("尿素", ["urea"]), ("p20ee", ["tyre"])])
def test_search_finds_chinese_words_in_titles_texts_and_tags(session, threads, query, expected):
    found = search_questions(session, None, query)

    assert [question.id for question in found] == [threads[name].id for name in expected]


def test_search_api_and_code_filter(client, session, threads):
    by_word = client.get("/api/v1/community/questions", query_string={"q": "尿素"}).get_json()
    by_code = client.get("/api/v1/community/questions", query_string={"code": "P20EE"}).get_json()

    assert [item["id"] for item in by_word["items"]] == [threads["urea"].id]
    assert [item["id"] for item in by_code["items"]] == [threads["tyre"].id]


def test_code_filter_on_an_spn_alone_finds_every_fmi(session):
    poster = make_poster(session)
    question = ask_question(session, poster, "机油压力报警", "", SETTINGS, utcnow(), codes=["SPN 100 FMI 1"])
    other = ask_question(session, poster, "机油压力传感器", "", SETTINGS, utcnow(), codes=["100"])

    from community.questions import select_questions

    found = list(session.scalars(select_questions(None, code="SPN 100 FMI 1")))

    assert {item.id for item in found} == {question.id, other.id}
