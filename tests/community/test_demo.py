"""The community demo seed: threads with accepted answers, one OEM-verified, a held post and an open report."""

from __future__ import annotations

import random

from sqlalchemy import func, select

from app.security import Role
from community import demo
from community.models import Answer, PostStatus, Question, Report, ReportStatus
from tests.factories import make_user


def test_seed_writes_solved_threads_a_verified_answer_a_held_post_and_a_report(session):
    make_user(session, Role.OEM_ADMIN)
    make_user(session, Role.DEALER_STAFF)

    notes = demo.seed(session, random.Random(1), "small", lambda items, _label: items)

    solved = session.scalar(select(func.count()).select_from(Question).where(Question.solved_at.is_not(None)))
    verified = session.scalar(select(func.count()).select_from(Answer).where(Answer.oem_verified_at.is_not(None)))
    held = session.scalars(select(Question).where(Question.status == PostStatus.HELD)).all()
    reports = session.scalars(select(Report).where(Report.status == ReportStatus.OPEN)).all()
    assert (solved, verified, len(held), len(reports)) == (3, 1, 1, 1)
    assert held[0].hold_reason == "keyword"
    assert "/community" in notes[0]
