"""Writing reviews: publish one per completed booking, follow up, reply as the shop, moderate as the OEM."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.crm.activity import record_activity
from app.crm.customers import find_customer_for_user
from app.crm.identifiers import mask_name
from app.crm.models import Organization
from app.errors import Conflict, Forbidden, InvalidInput, NotFound
from app.security import Role, User, is_oem, require_role
from network.models import Booking, BookingStatus, Shop
from reviews.models import (
    ModerationAction,
    Review,
    ReviewFollowUp,
    ReviewModeration,
    ReviewReply,
    ShopAffiliation,
)
from reviews.ratings import lock_shop, reassess_shop_reviews, refresh_shop_score
from reviews.settings import DIMENSIONS, ReviewSettings

MAX_TEXT = 2000
MIN_REASON = 5


@dataclass(frozen=True)
class Stars:
    """The five star ratings of a review, each 1-5."""

    overall: int
    quality: int
    price: int
    timeliness: int
    honesty: int

    def __post_init__(self) -> None:
        for dimension in DIMENSIONS:
            value = getattr(self, dimension)
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
                raise InvalidInput("%(field)s must be a whole number of stars from 1 to 5", field=dimension)


def device_fingerprint(device_id: str | None) -> str | None:
    """Return the stored form of a device id (SHA-256), or None when the client sent none."""
    if not device_id or not device_id.strip():
        return None
    return hashlib.sha256(device_id.strip().encode()).hexdigest()


def _check_text(text: str, field: str = "text", required: bool = False) -> str:
    text = (text or "").strip()
    if len(text) > MAX_TEXT:
        raise InvalidInput(f"%(field)s may have at most {MAX_TEXT} characters", field=field)
    if required and not text:
        raise InvalidInput("%(field)s is required", field=field)
    return text


def get_review(session: Session, review_id: int) -> Review:
    """Return the review with `review_id`, or 404."""
    review = session.get(Review, review_id)
    if review is None:
        raise NotFound("no review %(review_id)s", field="review", review_id=review_id)
    return review


def is_review_window_closed(booking: Booking, settings: ReviewSettings, now: datetime) -> bool:
    """Tell whether the time to review a completed booking has passed."""
    return booking.completed_at is not None and now - booking.completed_at > timedelta(days=settings.window_days)


def publish_review(
    session: Session,
    actor: User,
    booking_id: int,
    stars: Stars,
    text: str,
    settings: ReviewSettings,
    now: datetime,
    device_id: str | None = None,
) -> Review:
    """Publish the customer's review of a completed booking, re-check the shop's reviews and rescore it."""
    require_role(actor, Role.DRIVER)
    text = _check_text(text)
    booking = session.get(Booking, booking_id)
    customer = find_customer_for_user(session, actor)
    if booking is None:
        raise NotFound("no booking %(booking_id)s", field="booking", booking_id=booking_id)
    if customer is None or booking.customer_id != customer.id:
        raise Forbidden("only the booking's customer may review it", field="booking")
    if booking.status != BookingStatus.COMPLETED or booking.completed_at is None:
        raise Conflict(
            "only completed bookings can be reviewed; this one is %(booking_status)s",
            field="booking",
            booking_status=booking.status,
        )
    if is_review_window_closed(booking, settings, now):
        raise Conflict(
            "reviews are accepted for %(days)s days after completion", field="booking", days=settings.window_days
        )
    if session.scalar(select(Review.id).where(Review.booking_id == booking.id)) is not None:
        raise Conflict("this booking has already been reviewed", field="booking")
    lock_shop(session, booking.shop)
    review = record_review(session, booking, actor, stars, text, now, device_fingerprint(device_id))
    reassess_shop_reviews(session, booking.shop, settings)
    refresh_shop_score(session, booking.shop, settings, now)
    return review


def new_review(
    booking: Booking, author: User | None, stars: Stars, text: str, now: datetime, fingerprint: str | None = None
) -> Review:
    """Build (not add) the review of a flushed `booking`; record_review stores one, the demo stores many at once."""
    return Review(
        booking_id=booking.id,
        shop_id=booking.shop_id,
        customer_id=booking.customer_id,
        author_id=author.id if author else None,
        text=text,
        created_at=now,
        completed_at=booking.completed_at,
        fingerprint=fingerprint,
        **{dimension: getattr(stars, dimension) for dimension in DIMENSIONS},
    )


def record_review(
    session: Session,
    booking: Booking,
    author: User | None,
    stars: Stars,
    text: str,
    now: datetime,
    fingerprint: str | None = None,
) -> Review:
    """Store a review of `booking` (checks done by the caller); the shop is reassessed and rescored separately."""
    review = new_review(booking, author, stars, text, now, fingerprint)
    # Two simultaneous submissions: the unique booking_id lets one through and turns the other into a 409.
    try:
        with session.begin_nested():
            session.add(review)
            session.flush()
    except IntegrityError:
        raise Conflict("this booking has already been reviewed", field="booking") from None
    return review


def add_follow_up(
    session: Session,
    actor: User,
    review_id: int,
    text: str,
    overall: int | None,
    settings: ReviewSettings,
    now: datetime,
) -> ReviewFollowUp:
    """Add the author's one follow-up to a review, within the follow-up period after the service."""
    review = get_review(session, review_id)
    if review.author_id != actor.id:
        raise Forbidden("only the review's author may follow it up", field="review")
    text = _check_text(text, required=True)
    if overall is not None and (isinstance(overall, bool) or not 1 <= overall <= 5):
        raise InvalidInput("overall must be a whole number of stars from 1 to 5", field="overall")
    if review.follow_up is not None:
        raise Conflict("this review already has its follow-up", field="review")
    if now - review.completed_at > timedelta(days=settings.follow_up_days):
        raise Conflict(
            "follow-ups are accepted for %(follow_up_days)s days after the service",
            field="review",
            follow_up_days=settings.follow_up_days,
        )
    follow_up = ReviewFollowUp(review=review, text=text, overall=overall, created_at=now)
    session.add(follow_up)
    session.flush()
    record_activity(
        session, actor, "reviews.follow_up_added", "review", review.id, shop=review.shop.code, overall=overall
    )
    refresh_shop_score(session, review.shop, settings, now)
    return follow_up


def reply_to_review(session: Session, actor: User, review_id: int, text: str, now: datetime) -> ReviewReply:
    """Publish the shop's one reply to a review of that shop (its own staff only)."""
    review = get_review(session, review_id)
    require_role(actor, Role.SHOP_STAFF)
    if actor.organization_id != review.shop.organization_id:
        raise Forbidden("a shop may only reply to reviews of its own shop", field="review")
    text = _check_text(text, required=True)
    if review.reply is not None:
        raise Conflict("the shop has already replied to this review", field="review")
    reply = ReviewReply(review=review, author_id=actor.id, text=text, created_at=now)
    session.add(reply)
    session.flush()
    return reply


def moderate_review(
    session: Session,
    actor: User,
    review_id: int,
    action: ModerationAction,
    reason: str,
    settings: ReviewSettings,
    now: datetime,
) -> Review:
    """Hide or restore a review (OEM only) with a logged reason, and rescore the shop."""
    require_role(actor, Role.OEM_ADMIN)
    review = get_review(session, review_id)
    reason = (reason or "").strip()
    if len(reason) < MIN_REASON or len(reason) > 500:
        raise InvalidInput(f"a reason of {MIN_REASON} to 500 characters is required", field="reason")
    hide = action == ModerationAction.HIDE
    if review.is_hidden == hide:
        raise Conflict("the review is already %(value)s", field="review", value="hidden" if hide else "visible")
    review.is_hidden = hide
    session.add(ReviewModeration(review_id=review.id, action=action, reason=reason, actor_id=actor.id, created_at=now))
    session.flush()
    refresh_shop_score(session, review.shop, settings, now)
    return review


def affiliate_organization(
    session: Session,
    actor: User,
    shop: Shop,
    organization: Organization,
    note: str,
    settings: ReviewSettings,
    now: datetime,
) -> ShopAffiliation:
    """Record (OEM) that an organization runs a shop; its people's reviews of the shop stop counting at once."""
    require_role(actor, Role.OEM_ADMIN)
    exists = session.scalar(
        select(ShopAffiliation.id).where(
            ShopAffiliation.shop_id == shop.id, ShopAffiliation.organization_id == organization.id
        )
    )
    if exists is not None:
        raise Conflict(
            "%(organization_code)s is already recorded as running %(shop_code)s",
            field="organization",
            organization_code=organization.code,
            shop_code=shop.code,
        )
    affiliation = ShopAffiliation(shop_id=shop.id, organization_id=organization.id, note=note, created_at=now)
    session.add(affiliation)
    session.flush()
    reassess_shop_reviews(session, shop, settings)
    refresh_shop_score(session, shop, settings, now)
    return affiliation


def select_shop_reviews(shop: Shop, actor: User | None) -> Select:
    """Select a shop's reviews newest first; the public sees those that are neither hidden nor flagged."""
    statement = (
        select(Review)
        .where(Review.shop_id == shop.id)
        .options(
            selectinload(Review.follow_up),
            selectinload(Review.reply),
            selectinload(Review.flags),
            selectinload(Review.customer),
        )
        .order_by(Review.created_at.desc(), Review.id.desc())
    )
    if not is_oem(actor):
        statement = statement.where(Review.is_hidden.is_(False), Review.is_flagged.is_(False))
    return statement


def review_to_dict(review: Review, actor: User | None) -> dict:
    """Return a review as the API shows it: the driver's name masked; flags and moderation for the OEM."""
    body = {
        "id": review.id,
        "booking": review.booking_id,
        "driver": mask_name(review.customer.name),
        "created_at": review.created_at.isoformat(),
        "stars": {dimension: getattr(review, dimension) for dimension in DIMENSIONS},
        "text": review.text,
        "follow_up": None,
        "reply": None,
    }
    if review.follow_up is not None:
        body["follow_up"] = {
            "text": review.follow_up.text,
            "overall": review.follow_up.overall,
            "created_at": review.follow_up.created_at.isoformat(),
        }
    if review.reply is not None:
        body["reply"] = {"text": review.reply.text, "created_at": review.reply.created_at.isoformat()}
    if is_oem(actor):
        body["hidden"] = review.is_hidden
        body["flags"] = [{"reason": flag.reason, "detail": flag.detail} for flag in review.flags]
        body["counts"] = review.counts
    return body
