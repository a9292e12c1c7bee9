"""Satisfaction surveys: a token link after each resolution (no login), one answer, open for 14 days."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from app.errors import Conflict, InvalidInput, MilepostError, NotFound
from service.models import Message, ServiceRequest, Survey, Visibility
from service.settings import ServiceSettings

INVITE = {
    "zh": "您的服务请求 %(number)s 已处理。请花一分钟评价：%(url)s",
    "en": "Your request %(number)s was resolved. Please rate it in one minute: %(url)s",
}


class SurveyClosed(MilepostError):
    """The survey link is older than its validity."""

    status = 410
    code = "gone"


def token_hash(token: str) -> str:
    """Return the stored form of a survey token (only its hash is kept)."""
    return hashlib.sha256(token.encode()).hexdigest()


def survey_url(settings: ServiceSettings, token: str) -> str:
    """Return the public link of a survey."""
    return f"{settings.public_base_url}/service/survey/{token}"


def send_survey(session: Session, request: ServiceRequest, settings: ServiceSettings, now: datetime) -> str | None:
    """Create the survey of this resolution and post its link to the customer; return the token.

    Not asked when nobody outside can answer it (no customer and no phone), nor when the customer is the agent
    who solved it (an agent does not rate their own work).
    """
    if request.customer is None and not request.phone:
        return None
    customer_user = request.customer.user_id if request.customer is not None else None
    if customer_user is not None and customer_user == request.assignee_id:
        return None
    token = secrets.token_urlsafe(24)
    session.add(
        Survey(
            request_id=request.id,
            token_hash=token_hash(token),
            agent_id=request.assignee_id,
            queue_id=request.queue_id,
            sent_at=now,
            expires_at=now + timedelta(days=settings.survey_days),
        )
    )
    session.add(
        Message(
            request_id=request.id,
            visibility=Visibility.CUSTOMER,
            body=INVITE.get(request.locale, INVITE["zh"])
            % {"number": request.number, "url": survey_url(settings, token)},
            via_channel=request.channel,
            is_auto=True,
            created_at=now,
        )
    )
    session.flush()
    return token


def find_survey(session: Session, token: str) -> Survey:
    """Return the survey behind a token (404 for an unknown one)."""
    if not token or len(token) > 100:
        raise NotFound("no such survey")
    survey = session.scalar(select(Survey).where(Survey.token_hash == token_hash(token)))
    if survey is None:
        raise NotFound("no such survey")
    return survey


def check_open(survey: Survey, now: datetime) -> None:
    """Refuse an answered (409) or expired (410) survey."""
    if survey.answered_at is not None:
        raise Conflict("this survey was already answered")
    if now >= survey.expires_at:
        raise SurveyClosed("this survey link has expired")


def answer_survey(session: Session, token: str, *, solved: bool, stars: int, comment: str, now: datetime) -> Survey:
    """Record the one answer of a survey: solved or not, 1-5 stars, an optional comment."""
    survey = find_survey(session, token)
    check_open(survey, now)
    if not isinstance(stars, int) or isinstance(stars, bool) or not 1 <= stars <= 5:
        raise InvalidInput("stars are 1 to 5", field="stars")
    text = "".join(ch for ch in (comment or "") if ch >= " " or ch == "\n").strip()
    if len(text) > 1000:
        raise InvalidInput("the comment is longer than 1000 characters", field="comment")
    # One answer even when the link is opened on two phones at once.
    result = session.execute(
        update(Survey)
        .where(Survey.id == survey.id, Survey.answered_at.is_(None))
        .values(answered_at=now, solved=solved, stars=stars, comment=text)
    )
    if not result.rowcount:
        raise Conflict("this survey was already answered")
    session.refresh(survey)
    return survey
