"""What reviews hold about a person, for app.crm.personal_data.

Reviews are never deleted (DESIGN §8): erased, they keep their stars and their text without the person's name,
number or device, so a shop's standing does not change because a reviewer left.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crm.personal_data import Person, record_to_dict, register_eraser, register_exporter
from reviews.models import Review, ReviewFollowUp, ReviewReply


def _reviews_of(session: Session, person: Person) -> list[Review]:
    return list(session.scalars(select(Review).where(Review.customer_id == person.customer_id).order_by(Review.id)))


def export_reviews(session: Session, person: Person) -> dict:
    """Return the person's reviews with their follow-ups and the shops' replies."""
    reviews = _reviews_of(session, person)
    ids = [review.id for review in reviews]
    follow_ups = session.scalars(select(ReviewFollowUp).where(ReviewFollowUp.review_id.in_(ids)))
    replies = session.scalars(select(ReviewReply).where(ReviewReply.review_id.in_(ids)))
    return {
        "reviews": [record_to_dict(review, without=("fingerprint",)) for review in reviews],
        "follow_ups": [record_to_dict(row) for row in follow_ups],
        "replies": [record_to_dict(row) for row in replies],
    }


def erase_reviews(session: Session, person: Person) -> dict[str, int]:
    """Keep the person's reviews, anonymized: no name or number in the texts, no device fingerprint."""
    reviews = _reviews_of(session, person)
    for review in reviews:
        review.text, review.fingerprint = person.scrub(review.text), None
        for kept in (review.follow_up, review.reply):
            if kept is not None:
                kept.text = person.scrub(kept.text)
    return {"reviews_anonymized": len(reviews)}


register_exporter("reviews", export_reviews)
register_eraser("reviews", erase_reviews)
