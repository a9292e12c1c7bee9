"""Community pages: list and search, ask, a question with its answers, accept, report, moderation, and the
fault page's link to the drivers' questions (registered by the shell, knowledge never names community)."""

from __future__ import annotations

from sqlalchemy import select

from app.db import utcnow
from app.security import Role
from community.models import PostStatus, Question, Report
from community.questions import ask_question
from knowledge.entries import install_shipped_entries
from tests.community.factories import SETTINGS, make_answer, make_poster, make_question
from tests.factories import make_user, sign_in_client


def test_question_list_is_chinese_by_default_and_english_on_switch(client, session):
    make_question(session, make_poster(session), title="机油压力灯亮了")

    chinese = client.get("/community").get_data(as_text=True)
    english = client.get("/community?lang=en").get_data(as_text=True)

    assert "车主问答" in chinese and "机油压力灯亮了" in chinese
    assert "<h1>Drivers' Q&A</h1>" in english and "Ask a question" in english


def test_ask_page_posts_a_new_accounts_question_as_under_review(client, session):
    poster = make_poster(session, trusted=False)
    token = sign_in_client(client, poster)

    response = client.post(
        "/community/ask",
        data={"csrf_token": token, "title": "尿素泵不工作", "body": "国六车", "codes": "SPN 100 FMI 1, P20EE"},
    )
    question = session.scalar(select(Question).where(Question.title == "尿素泵不工作"))
    shown = client.get(response.headers["Location"]).get_data(as_text=True)

    assert response.status_code == 302
    assert [tag.value for tag in question.tags] == ["100/1", "P20EE"]
    assert question.status == PostStatus.HELD
    assert "审核中" in shown


def test_ask_page_refuses_an_unproven_driver_with_the_reason(client, session):
    token = sign_in_client(client, make_user(session, Role.DRIVER))

    response = client.post("/community/ask", data={"csrf_token": token, "title": "尿素泵不工作"})

    assert response.status_code == 403
    assert "发帖需要验证手机号" in response.get_data(as_text=True)


def test_question_page_offers_accept_to_the_asker_only(client, session):
    asker, helper = make_poster(session), make_poster(session)
    question = make_question(session, asker)
    make_answer(session, question, helper)

    sign_in_client(client, helper)
    as_helper = client.get(f"/community/questions/{question.id}").get_data(as_text=True)
    sign_in_client(client, asker)
    as_asker = client.get(f"/community/questions/{question.id}").get_data(as_text=True)

    assert 'data-action="accept"' not in as_helper
    assert 'data-action="accept"' in as_asker


def test_accept_page_by_another_driver_is_403_and_changes_nothing(client, session):
    asker, helper = make_poster(session), make_poster(session)
    question = make_question(session, asker)
    answer = make_answer(session, question, helper)
    token = sign_in_client(client, helper)

    response = client.post(f"/community/answers/{answer.id}/accept", data={"csrf_token": token})

    session.expire_all()
    assert response.status_code == 403
    assert question.solved_at is None and answer.accepted_at is None


def test_answer_and_accept_through_the_pages(client, session):
    asker, helper = make_poster(session), make_poster(session)
    question = make_question(session, asker)
    token = sign_in_client(client, helper)
    client.post(f"/community/questions/{question.id}/answers", data={"csrf_token": token, "body": "换传感器"})
    session.expire_all()
    (answer,) = question.answers

    token = sign_in_client(client, asker)
    client.post(f"/community/answers/{answer.id}/accept", data={"csrf_token": token})
    page = client.get(f"/community/questions/{question.id}").get_data(as_text=True)

    assert "已采纳的回答" in page and "已解决" in page


def test_report_page_files_a_report_with_its_deadline(client, session):
    question = make_question(session, make_poster(session))
    token = sign_in_client(client, make_poster(session))

    form = client.get(f"/community/report/question/{question.id}").get_data(as_text=True)
    response = client.post(
        f"/community/report/question/{question.id}", data={"csrf_token": token, "reason": "spam", "note": "广告"}
    )

    report = session.scalar(select(Report))
    assert "24 小时内" in form
    assert response.status_code == 302
    assert report.due_at - report.created_at == SETTINGS.report_deadline


def test_moderation_page_is_for_the_oem_and_hides_with_a_reason(client, session):
    held = ask_question(session, make_poster(session, trusted=False), "转向沉重是什么原因", "", SETTINGS, utcnow())
    sign_in_client(client, make_poster(session))
    refused = client.get("/community/moderation")
    token = sign_in_client(client, make_user(session, Role.OEM_ADMIN))

    queue = client.get("/community/moderation").get_data(as_text=True)
    client.post(
        f"/community/moderation/question/{held.id}", data={"csrf_token": token, "action": "hide", "reason": "重复"}
    )

    session.expire_all()
    assert refused.status_code == 403
    assert "转向沉重是什么原因" in queue
    assert (held.status, held.moderation_reason) == (PostStatus.HIDDEN, "重复")


def test_fault_page_links_to_the_drivers_questions_about_the_code(client, session):
    install_shipped_entries(session)

    page = client.get("/faults?code=SPN+100+FMI+1").get_data(as_text=True)

    assert 'href="/community?code=100/1"' in page
    assert "问问其他车主" in page
