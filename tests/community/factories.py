"""Community test factories: posters with a proven phone (new or trusted) and questions written as records."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy.orm import Session

from app.config import DEFAULTS
from app.db import utcnow
from app.security import User
from community.models import Answer, PostStatus, Question
from community.questions import digest
from community.settings import community_settings
from tests.factories import make_driver

SETTINGS = community_settings(DEFAULTS)


def make_question(session: Session, author: User, **overrides: object) -> Question:
    """Add a published question by `author` without the posting rules (for history and fixtures)."""
    title = str(overrides.pop("title", f"问题 {utcnow().timestamp()} {id(overrides)}"))
    body = str(overrides.pop("body", ""))
    fields = {
        "author_id": author.id,
        "title": title,
        "body": body,
        "digest": digest(title, body),
        "status": PostStatus.PUBLISHED,
        "published_at": utcnow(),
        "search_text": title,
    }
    fields.update(overrides)
    question = Question(**fields)
    session.add(question)
    session.flush()
    return question


def make_answer(session: Session, question: Question, author: User, **overrides: object) -> Answer:
    """Add a published answer without the posting rules."""
    body = str(overrides.pop("body", f"回答 {id(overrides)}"))
    fields = {
        "question_id": question.id,
        "author_id": author.id,
        "body": body,
        "digest": digest(body),
        "status": PostStatus.PUBLISHED,
        "published_at": utcnow(),
    }
    fields.update(overrides)
    answer = Answer(**fields)
    session.add(answer)
    session.flush()
    return answer


def make_poster(session: Session, trusted: bool = True) -> User:
    """Return a driver with a proven phone; trusted ones are a month old with enough published posts."""
    user, _customer = make_driver(session)
    if trusted:
        user.created_at = utcnow() - timedelta(days=30)
        for number in range(SETTINGS.trusted_posts):
            make_question(session, user, title=f"早先的问题 {user.id}-{number}")
    session.flush()
    return user
