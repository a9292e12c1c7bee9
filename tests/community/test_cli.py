"""`milepost community check-keywords TEXT` and `milepost community flag-overdue`."""

from __future__ import annotations

from datetime import timedelta

from app.db import utcnow
from community.moderation import report_post
from tests.community.factories import SETTINGS, make_poster, make_question


def test_check_keywords_names_the_terms_a_text_contains(app):
    runner = app.test_cli_runner()

    hit = runner.invoke(args=["community", "check-keywords", "加 V 信聊，有高仿配件"])
    clean = runner.invoke(args=["community", "check-keywords", "机油压力低"])

    assert hit.exit_code == 0 and hit.output.strip() == "加V信, 高仿配件"
    assert "No keyword found" in clean.output


def test_flag_overdue_flags_reports_past_their_deadline(app, session):
    question = make_question(session, make_poster(session))
    report = report_post(session, make_poster(session), question, "spam", "", SETTINGS, utcnow() - timedelta(days=2))

    result = app.test_cli_runner().invoke(args=["community", "flag-overdue"])

    session.expire_all()
    assert result.exit_code == 0, result.output
    assert "Flagged 1" in result.output
    assert report.overdue_at is not None
