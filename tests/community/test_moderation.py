"""Moderation: hide keeps the record and logs the reason; publish held posts; reports with a deadline."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.crm.models import ActivityEntry
from app.db import utcnow
from app.errors import Conflict, Forbidden, NotFound
from app.security import Role
from community.models import Answer, PostStatus, Question, ReportStatus
from community.moderation import close_report, flag_overdue_reports, moderate_post, report_post
from community.questions import ask_question, get_question, question_to_dict
from community.tasks import flag_overdue
from tests.community.factories import SETTINGS, make_answer, make_poster, make_question
from tests.factories import auth_header, make_user


def _log(session, action: str) -> list[ActivityEntry]:
    return list(session.scalars(select(ActivityEntry).where(ActivityEntry.action == action)))


def test_hide_keeps_the_record_and_logs_the_reason(client, session):
    author, reader = make_poster(session), make_poster(session)
    oem = make_user(session, Role.OEM_ADMIN)
    question = make_question(session, author, title="卖高仿件的帖子")

    response = client.post(
        f"/api/v1/community/moderation/question/{question.id}",
        json={"action": "hide", "reason": "推广假冒配件"},
        headers=auth_header(session, oem),
    )

    session.expire_all()
    assert response.status_code == 200
    assert session.get(Question, question.id).title == "卖高仿件的帖子"
    assert question.status == PostStatus.HIDDEN
    (entry,) = _log(session, "community.post_hide")
    assert (entry.actor_id, entry.subject_id, entry.details["reason"]) == (oem.id, str(question.id), "推广假冒配件")
    with pytest.raises(NotFound):
        get_question(session, reader, question.id)
    shown = question_to_dict(get_question(session, author, question.id), author)
    assert (shown["status"], shown["moderation_reason"]) == ("hidden", "推广假冒配件")


def test_hide_without_a_reason_is_400_naming_reason(client, session):
    question = make_question(session, make_poster(session))

    response = client.post(
        f"/api/v1/community/moderation/question/{question.id}",
        json={"action": "hide"},
        headers=auth_header(session, make_user(session, Role.OEM_ADMIN)),
    )

    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "reason"


def test_no_route_deletes_a_post(app):
    methods = {method for rule in app.url_map.iter_rules() if "community" in rule.rule for method in rule.methods}

    assert "DELETE" not in methods


def test_hide_then_restore_logs_two_actions(session):
    oem = make_user(session, Role.OEM_ADMIN)
    answer = make_answer(session, make_question(session, make_poster(session)), make_poster(session))

    moderate_post(session, oem, answer, "hide", "离题", utcnow())
    moderate_post(session, oem, answer, "restore", "误判", utcnow())

    assert answer.status == PostStatus.PUBLISHED
    assert [entry.details["reason"] for entry in _log(session, "community.post_hide")] == ["离题"]
    assert [entry.details["reason"] for entry in _log(session, "community.post_restore")] == ["误判"]


def test_moderation_is_for_oem_staff(session):
    author = make_poster(session)
    question = make_question(session, author)

    with pytest.raises(Forbidden):
        moderate_post(session, author, question, "hide", "不喜欢", utcnow())


def test_publish_a_held_question(session):
    oem = make_user(session, Role.OEM_ADMIN)
    question = ask_question(session, make_poster(session, trusted=False), "转向沉重是什么原因", "", SETTINGS, utcnow())

    moderate_post(session, oem, question, "publish", "", utcnow())

    assert question.status == PostStatus.PUBLISHED and question.published_at is not None
    with pytest.raises(Conflict):
        moderate_post(session, oem, question, "publish", "", utcnow())


def test_report_deadline_job_flags_only_overdue_open_reports(session):
    reporter = make_poster(session)
    question = make_question(session, make_poster(session))
    answer = make_answer(session, question, make_poster(session))
    now = utcnow()
    old = report_post(session, reporter, question, "spam", "", SETTINGS, now - timedelta(hours=25))
    fresh = report_post(session, reporter, answer, "abuse", "", SETTINGS, now - timedelta(hours=23))

    flagged = flag_overdue_reports(session, now)
    again = flag_overdue_reports(session, now + timedelta(minutes=10))

    assert old.due_at == old.created_at + timedelta(hours=24)
    assert (flagged, again) == (1, 0)
    assert old.overdue_at == now and fresh.overdue_at is None
    (entry,) = _log(session, "community.report_overdue")
    assert entry.subject_id == str(old.id) and entry.actor_id is None


def test_report_deadline_job_is_declared_for_the_worker(session):
    from app.jobs import JOBS, JobContext

    report_post(
        session, make_poster(session), make_question(session, make_poster(session)), "spam", "", SETTINGS,
        utcnow() - timedelta(days=2),
    )  # fmt: skip
    context = JobContext(session=session, settings={}, now=utcnow(), payload={})

    assert JOBS["community.flag_overdue_reports"].every == timedelta(minutes=10)
    assert flag_overdue(context) == {"flagged": 1}


def test_a_reporter_reports_a_post_once_and_cannot_report_what_he_cannot_see(session):
    reporter = make_poster(session)
    question = make_question(session, make_poster(session))
    held = make_question(session, make_poster(session), status=PostStatus.HELD)
    report_post(session, reporter, question, "spam", "", SETTINGS, utcnow())

    with pytest.raises(Conflict):
        report_post(session, reporter, question, "abuse", "", SETTINGS, utcnow())
    with pytest.raises(NotFound):
        report_post(session, reporter, held, "spam", "", SETTINGS, utcnow())


def test_upholding_a_report_hides_the_post_with_the_reason(session):
    oem = make_user(session, Role.OEM_ADMIN)
    answer = make_answer(session, make_question(session, make_poster(session)), make_poster(session))
    report = report_post(session, make_poster(session), answer, "spam", "广告", SETTINGS, utcnow())

    close_report(session, oem, report, "upheld", "广告", utcnow())

    assert report.status == ReportStatus.UPHELD and report.outcome_reason == "广告"
    assert answer.status == PostStatus.HIDDEN and answer.moderation_reason == "广告"
    assert session.scalar(select(func.count()).select_from(Answer)) == 1


def test_moderation_queue_api_lists_held_posts_and_reports(client, session):
    oem = make_user(session, Role.OEM_ADMIN)
    held = ask_question(session, make_poster(session, trusted=False), "转向沉重是什么原因", "", SETTINGS, utcnow())
    question = make_question(session, make_poster(session))
    report_post(session, make_poster(session), question, "spam", "", SETTINGS, utcnow() - timedelta(days=2))

    queue = client.get("/api/v1/community/moderation", headers=auth_header(session, oem)).get_json()
    driver = client.get("/api/v1/community/moderation", headers=auth_header(session, make_poster(session)))

    assert [item["id"] for item in queue["questions"]] == [held.id]
    assert queue["questions"][0]["hold_reason"] == "new_account"
    assert [(item["target_id"], item["overdue"]) for item in queue["reports"]] == [(question.id, True)]
    assert driver.status_code == 403
