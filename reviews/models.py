"""Reviews models: reviews with their follow-ups, replies, flags and moderation log; shop scores; certification
state, history and evaluation runs; plaques.

Reviews are never deleted. Certification history and moderation logs are append-only.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, SmallInteger, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crm.models import Customer
from app.db import Base, utcnow
from network.models import Booking, Shop


class ModerationAction(StrEnum):
    """What the OEM did to a review."""

    HIDE = "hide"
    RESTORE = "restore"


class ChangeKind(StrEnum):
    """How a certification change came about."""

    EVALUATION = "evaluation"
    INTEGRITY = "integrity"
    DEADLINE = "deadline"
    OVERRIDE = "override"


def _stars_check(name: str) -> CheckConstraint:
    return CheckConstraint(f"{name} BETWEEN 1 AND 5", name=f"{name}_stars")


class Review(Base):
    """A driver's review of one completed booking: overall stars, four dimensions and text."""

    __tablename__ = "reviews"
    __table_args__ = (
        *(_stars_check(name) for name in ("overall", "quality", "price", "timeliness", "honesty")),
        Index("ix_reviews_shop_id_created_at", "shop_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # One review per booking: the unique constraint also settles two simultaneous submissions.
    booking_id: Mapped[int] = mapped_column(ForeignKey("bookings.id"), unique=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    # The customer's user account (None for reviews imported with customers who have no account).
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    overall: Mapped[int] = mapped_column(SmallInteger)
    quality: Mapped[int] = mapped_column(SmallInteger)
    # Price fairness.
    price: Mapped[int] = mapped_column(SmallInteger)
    timeliness: Mapped[int] = mapped_column(SmallInteger)
    # Honesty about parts.
    honesty: Mapped[int] = mapped_column(SmallInteger)
    text: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The booking's completion time, copied so manipulation rules need no join.
    completed_at: Mapped[datetime]
    # SHA-256 of the device id the review came from (pages set one in a cookie); None when unknown.
    fingerprint: Mapped[str | None] = mapped_column(String(64), index=True)
    # Flagged reviews (manipulation rules) and hidden ones (OEM moderation) weigh zero in scores.
    is_flagged: Mapped[bool] = mapped_column(default=False)
    is_hidden: Mapped[bool] = mapped_column(default=False)

    booking: Mapped[Booking] = relationship()
    shop: Mapped[Shop] = relationship()
    customer: Mapped[Customer] = relationship()
    follow_up: Mapped[ReviewFollowUp | None] = relationship(back_populates="review")
    reply: Mapped[ReviewReply | None] = relationship(back_populates="review")
    flags: Mapped[list[ReviewFlag]] = relationship(back_populates="review", order_by="ReviewFlag.id")

    @property
    def counts(self) -> bool:
        """Tell whether the review counts in scores."""
        return not (self.is_flagged or self.is_hidden)


class ReviewFollowUp(Base):
    """The driver's one later word on a review (the part failed, the price was fair after all)."""

    __tablename__ = "review_follow_ups"
    __table_args__ = (CheckConstraint("overall IS NULL OR overall BETWEEN 1 AND 5", name="overall_stars"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), unique=True)
    text: Mapped[str] = mapped_column(Text)
    # New overall stars; when given they replace the review's overall stars in scores.
    overall: Mapped[int | None] = mapped_column(SmallInteger)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    review: Mapped[Review] = relationship(back_populates="follow_up")


class ReviewReply(Base):
    """The shop's one public reply to a review."""

    __tablename__ = "review_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), unique=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    review: Mapped[Review] = relationship(back_populates="reply")


class ReviewFlag(Base):
    """One manipulation rule's finding about a review, with its reason (kept; never removed automatically)."""

    __tablename__ = "review_flags"
    __table_args__ = (UniqueConstraint("review_id", "reason", name="uq_review_flags_review_id_reason"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"))
    reason: Mapped[str] = mapped_column(String(30))
    detail: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    review: Mapped[Review] = relationship(back_populates="flags")


class ReviewModeration(Base):
    """The moderation log: each hide or restore of a review, by whom and why."""

    __tablename__ = "review_moderations"

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("reviews.id"), index=True)
    action: Mapped[str] = mapped_column(String(10))
    reason: Mapped[str] = mapped_column(String(500))
    actor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShopAffiliation(Base):
    """An organization (a fleet, an operator) that runs a shop: its people's reviews of that shop do not count."""

    __tablename__ = "shop_affiliations"
    __table_args__ = (
        UniqueConstraint("shop_id", "organization_id", name="uq_shop_affiliations_shop_id_organization_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    note: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ShopScore(Base):
    """A shop's current published scores: per dimension the shrunk mean, interval, count and weight."""

    __tablename__ = "shop_scores"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    # The overall score again as a column, so the network percentile is one indexed query.
    overall: Mapped[float] = mapped_column(index=True)
    review_count: Mapped[int] = mapped_column(default=0)
    # {"overall": {"score", "low", "high", "count", "weight"}, "quality": {...}, ...}
    dimensions: Mapped[dict] = mapped_column(JSON)
    # The network prior the scores were shrunk toward.
    priors: Mapped[dict] = mapped_column(JSON)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class EvaluationRun(Base):
    """One certification evaluation over the network, with the thresholds and priors it used."""

    __tablename__ = "evaluation_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    thresholds: Mapped[dict] = mapped_column(JSON)
    priors: Mapped[dict] = mapped_column(JSON)
    shops_evaluated: Mapped[int] = mapped_column(default=0)
    changes: Mapped[int] = mapped_column(default=0)
    pending: Mapped[int] = mapped_column(default=0)


class CertificationState(Base):
    """A shop's certification tier now, the change waiting for confirmation, and the last KPI snapshot."""

    __tablename__ = "certification_states"

    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), primary_key=True)
    tier: Mapped[str] = mapped_column(String(20), default="none", index=True)
    since: Mapped[datetime] = mapped_column(default=utcnow)
    pending_tier: Mapped[str | None] = mapped_column(String(20))
    pending_count: Mapped[int] = mapped_column(default=0)
    pending_reason: Mapped[str] = mapped_column(String(500), default="")
    # Probation only: the tier is revoked when the shop is not cured by then.
    cure_deadline: Mapped[datetime | None]
    kpis: Mapped[dict] = mapped_column(JSON, default=dict)
    evaluated_at: Mapped[datetime | None]
    run_id: Mapped[int | None] = mapped_column(ForeignKey("evaluation_runs.id"))

    shop: Mapped[Shop] = relationship()


class CertificationChange(Base):
    """One change of tier with the KPI snapshot and reason behind it (append-only history)."""

    __tablename__ = "certification_changes"
    __table_args__ = (Index("ix_certification_changes_shop_id_created_at", "shop_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    from_tier: Mapped[str] = mapped_column(String(20))
    to_tier: Mapped[str] = mapped_column(String(20))
    kind: Mapped[str] = mapped_column(String(20))
    reason: Mapped[str] = mapped_column(String(1000))
    kpis: Mapped[dict] = mapped_column(JSON)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("evaluation_runs.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Plaque(Base):
    """A numbered plaque issued to a shop; re-issuing revokes the previous one."""

    __tablename__ = "plaques"
    __table_args__ = (UniqueConstraint("shop_id", "number", name="uq_plaques_shop_id_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"))
    number: Mapped[int]
    # The public tag printed on the plaque (not a secret: it is on the wall).
    tag: Mapped[str] = mapped_column(String(17))
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str] = mapped_column(String(300), default="")

    shop: Mapped[Shop] = relationship()


class ReissueReason(StrEnum):
    """Why a shop asks the OEM for a new plaque."""

    LOST = "lost"
    DAMAGED = "damaged"
    MOVED = "moved"
    NAME_CHANGED = "name_changed"


class PlaqueRequest(Base):
    """A shop's request that the OEM re-issue its plaque; closed when the OEM issues the next one or declines."""

    __tablename__ = "plaque_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id"), index=True)
    reason: Mapped[str] = mapped_column(String(20))
    note: Mapped[str] = mapped_column(String(300), default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    # The shop's id while the request is open, NULL once closed: the unique index allows one open request per shop
    # on both databases (NULLs never collide), so a double click or two staff at once make one request.
    open_shop_id: Mapped[int | None] = mapped_column(unique=True)
    resolved_at: Mapped[datetime | None]
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    plaque_number: Mapped[int | None]
    # Set when the OEM declined the request: the reason the shop is shown.
    decline_reason: Mapped[str | None] = mapped_column(String(300))

    shop: Mapped[Shop] = relationship()
