"""Community models: questions with their tags, answers, and reports.

Nothing is ever deleted: moderation changes a post's status (held, published, hidden) and the activity log
keeps who did it and why.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.db import Base, utcnow
from app.security import User
from knowledge.models import Article, trigram_index


class PostStatus(StrEnum):
    """Who sees a post: held (its author and moderators, "审核中"), published (everyone), hidden (author, OEM)."""

    HELD = "held"
    PUBLISHED = "published"
    HIDDEN = "hidden"


class HoldReason(StrEnum):
    """Why a post waits for a moderator before anyone else sees it."""

    NEW_ACCOUNT = "new_account"
    KEYWORD = "keyword"


class TagKind(StrEnum):
    """What a question is tagged with: a fault code (`100/1`, `P20EE`), a part type (part number), a model."""

    CODE = "code"
    PART_TYPE = "part_type"
    MODEL = "model"


class ReportReason(StrEnum):
    """Why a reader reports a post (举报)."""

    ILLEGAL = "illegal"
    SPAM = "spam"
    ABUSE = "abuse"
    FAKE_PARTS = "fake_parts"
    PRIVACY = "privacy"


class ReportStatus(StrEnum):
    """Where a report stands: open until a moderator upholds it (the post is hidden) or dismisses it."""

    OPEN = "open"
    UPHELD = "upheld"
    DISMISSED = "dismissed"


class TargetKind(StrEnum):
    """Which kind of post a report or a moderation action is about."""

    QUESTION = "question"
    ANSWER = "answer"


class ModeratedPost:
    """What questions and answers share: who sees them (status), why they were held or hidden, the province."""

    status: Mapped[str] = mapped_column(String(20), default=PostStatus.PUBLISHED)
    hold_reason: Mapped[str | None] = mapped_column(String(20))
    # The keyword-filter terms that held it, for the moderator.
    held_terms: Mapped[str] = mapped_column(String(500), default="")
    # The moderator's reason, shown to the author of a hidden post.
    moderation_reason: Mapped[str | None] = mapped_column(String(500))
    # The poster's province (IP属地), never anything finer.
    province: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None]


class Question(ModeratedPost, Base):
    """A driver's question; `solved_at` is set once, by the one conditional UPDATE that accepts an answer."""

    __tablename__ = "community_questions"
    __table_args__ = (
        # A double-click on "ask" sends the same text twice: the second insert collides here.
        UniqueConstraint("author_id", "digest", name="uq_community_questions_author_id_digest"),
        Index("ix_community_questions_status_created_at", "status", "created_at"),
        trigram_index("community_questions"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    title: Mapped[str] = mapped_column(String(150))
    body: Mapped[str] = mapped_column(Text)
    # SHA-256 of title and body: what makes a repeated submission the same question.
    digest: Mapped[str] = mapped_column(String(64))
    search_text: Mapped[str] = mapped_column(Text, default="")
    solved_at: Mapped[datetime | None]

    author: Mapped[User] = relationship()
    tags: Mapped[list[QuestionTag]] = relationship(
        back_populates="question", cascade="all, delete-orphan", order_by="QuestionTag.id"
    )
    answers: Mapped[list[Answer]] = relationship(back_populates="question", order_by="Answer.id")


class QuestionTag(Base):
    """One tag of a question: a code in knowledge's short form, a part number, or a vehicle model."""

    __tablename__ = "community_question_tags"
    __table_args__ = (
        UniqueConstraint("question_id", "kind", "value", name="uq_community_question_tags_question_id_kind_value"),
        Index("ix_community_question_tags_kind_value", "kind", "value"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("community_questions.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    value: Mapped[str] = mapped_column(String(100))

    question: Mapped[Question] = relationship(back_populates="tags")


class Answer(ModeratedPost, Base):
    """An answer to a question; at most one per question is accepted (a partial unique index keeps it so)."""

    __tablename__ = "community_answers"
    __table_args__ = (
        UniqueConstraint(
            "question_id", "author_id", "digest", name="uq_community_answers_question_id_author_id_digest"
        ),
        Index(
            "uq_community_answers_accepted",
            "question_id",
            unique=True,
            sqlite_where=text("accepted_at IS NOT NULL"),
            postgresql_where=text("accepted_at IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("community_questions.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    body: Mapped[str] = mapped_column(Text)
    digest: Mapped[str] = mapped_column(String(64))
    accepted_at: Mapped[datetime | None]
    oem_verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    oem_verified_at: Mapped[datetime | None]
    # The knowledge article drafted from this answer.
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"))

    question: Mapped[Question] = relationship(back_populates="answers")
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    article: Mapped[Article | None] = relationship()


class Report(Base):
    """A reader's report of a post, with the deadline by which a moderator must have looked at it."""

    __tablename__ = "community_reports"
    __table_args__ = (
        UniqueConstraint(
            "target_kind", "target_id", "reporter_id", name="uq_community_reports_target_kind_target_id_reporter_id"
        ),
        Index("ix_community_reports_status_due_at", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    target_kind: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[int]
    reporter_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    reason: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[str] = mapped_column(String(20), default=ReportStatus.OPEN)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    due_at: Mapped[datetime]
    # Set by the worker's job when the deadline passed with the report still open: the OEM's queue shows it first.
    overdue_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome_reason: Mapped[str | None] = mapped_column(String(500))
