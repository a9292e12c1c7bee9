"""Answers: posting, the asker's one accepted answer, the OEM's verified mark, and the article drafted from it."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.crm.activity import record_activity
from app.crm.notifications import N_, notify
from app.errors import Conflict, Forbidden
from app.security import Role, User, require_actor, require_role
from community.models import Answer, PostStatus, Question, TagKind
from community.questions import MAX_BODY, clean_text, digest, hold_for, insert_once
from community.settings import CommunitySettings
from community.standing import ensure_may_post, poster_province
from knowledge.articles import save_article
from knowledge.models import Article
from traceability.models import PartType

ANSWERED = N_('Your question "%(title)s" has a new answer.')


def post_answer(
    session: Session,
    actor: User | None,
    question: Question,
    body: str,
    settings: CommunitySettings,
    now: datetime,
    client: str | None = None,
) -> Answer:
    """Answer a published question: published at once, or held for review like a question."""
    actor = ensure_may_post(session, actor)
    if question.status != PostStatus.PUBLISHED:
        raise Conflict("this question is not open for answers", field="question")
    body = clean_text(body, "body", MAX_BODY, 2)
    status, reason, terms = hold_for(session, actor, settings, now, body)
    answer = Answer(
        question_id=question.id,
        author_id=actor.id,
        body=body,
        digest=digest(body),
        status=status,
        hold_reason=reason,
        held_terms=",".join(terms)[:500],
        province=poster_province(session, actor, client, settings),
        created_at=now,
        published_at=now if status == PostStatus.PUBLISHED else None,
    )
    insert_once(session, answer, "you have posted this answer already")
    record_activity(session, actor, "community.answer_posted", "answer", answer.id, status=status, hold=reason)
    tell_asker(session, answer, now)
    return answer


def tell_asker(session: Session, answer: Answer, now: datetime) -> None:
    """Tell the asker their question has a published answer by someone else (when held, once it is published)."""
    question = session.get(Question, answer.question_id)
    if answer.status != PostStatus.PUBLISHED or question is None or question.author_id == answer.author_id:
        return
    notify(
        session, question.author, "community.answered", ANSWERED, params={"title": question.title[:40]}, now=now,
        link=f"/community/questions/{question.id}", subject=("question", question.id), key=f"answer:{answer.id}",
    )  # fmt: skip


def accept_answer(session: Session, actor: User | None, answer: Answer, now: datetime) -> Answer:
    """Mark the answer as the one that solved the question; only the asker, and only once per question."""
    actor = require_actor(actor)
    question = answer.question
    if actor.id != question.author_id:
        raise Forbidden("only the person who asked may accept an answer", field="answer")
    if answer.status != PostStatus.PUBLISHED or question.status != PostStatus.PUBLISHED:
        raise Conflict("only a published answer can be accepted", field="answer")
    # One conditional UPDATE: of two accepts at once (a double click, two tabs) exactly one finds solved_at
    # empty; on PostgreSQL the second waits for the first's row lock, then sees the row already solved.
    solved = session.execute(
        update(Question)
        .where(Question.id == question.id, Question.solved_at.is_(None))
        .values(solved_at=now)
        .execution_options(synchronize_session=False)
    )
    if solved.rowcount != 1:
        raise Conflict("an answer to this question is accepted already", field="answer")
    session.refresh(question, ["solved_at"])
    answer.accepted_at = now
    session.flush()
    record_activity(session, actor, "community.answer_accepted", "answer", answer.id, question=question.id)
    return answer


def verify_answer(session: Session, actor: User | None, answer: Answer, now: datetime) -> Answer:
    """Give a published answer the OEM-verified mark (OEM staff)."""
    actor = require_role(actor, Role.OEM_ADMIN)
    if answer.status != PostStatus.PUBLISHED:
        raise Conflict("only a published answer can be verified", field="answer")
    if answer.oem_verified_at is not None:
        raise Conflict("this answer is verified already", field="answer")
    answer.oem_verified_by_id = actor.id
    answer.oem_verified_at = now
    session.flush()
    record_activity(session, actor, "community.answer_verified", "answer", answer.id, question=answer.question_id)
    return answer


def article_slug(answer: Answer) -> str:
    """Return the slug of the article drafted from an answer."""
    return f"community-q{answer.question_id}-a{answer.id}"


def draft_article(session: Session, actor: User | None, answer: Answer, question_url: str) -> Article:
    """Turn an OEM-verified answer into a knowledge article draft linked to the question's codes and models."""
    actor = require_role(actor, Role.OEM_ADMIN)
    if answer.oem_verified_at is None:
        raise Conflict("verify the answer before turning it into an article", field="answer")
    if answer.article_id is not None:
        raise Conflict("an article was drafted from this answer already", field="answer")
    question = answer.question
    tags = {kind: [tag.value for tag in question.tags if tag.kind == kind] for kind in TagKind}
    categories = session.scalars(
        select(PartType.category).where(PartType.part_number.in_(tags[TagKind.PART_TYPE])).distinct()
    )
    body = "\n\n".join(
        [
            f"**问题**：{question.title}",
            question.body,
            f"**经 OEM 核实的回答**：\n\n{answer.body}",
            f"来源：{question_url}",
        ]
    )
    article = save_article(
        session,
        actor,
        article_slug(answer),
        {"zh": question.title, "en": ""},
        {"zh": body, "en": ""},
        codes=tags[TagKind.CODE],
        part_categories=[category for category in categories if category],
        models=tags[TagKind.MODEL],
    )
    answer.article_id = article.id
    session.flush()
    record_activity(session, actor, "community.article_drafted", "answer", answer.id, article=article.slug)
    return article
