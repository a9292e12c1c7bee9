"""Replies and status changes: what an agent and the customer write, and the request's life from new to closed."""

from __future__ import annotations

import random
from datetime import datetime

from sqlalchemy.orm import Session

from app.crm.models import Customer
from app.crm.notifications import INBOX, N_, SMS, WECHAT, notify_customer
from app.errors import Conflict, Forbidden, InvalidInput
from app.security import Role, User
from service.access import may_see_request, may_work_request
from service.assignment import dispatch_backlog
from service.canned import check_sendable
from service.intake import MAX_BODY, clean_text
from service.models import (
    DONE_STATUSES,
    PAUSE_STATUSES,
    Message,
    RequestStatus,
    ServiceRequest,
    Visibility,
)
from service.settings import ServiceSettings
from service.sla import on_agent_reply, on_customer_message, on_reopened, on_resolved, on_status_change
from service.surveys import send_survey
from service.timeline import record_event

# Statuses an agent may set by hand; merged and deflected come from their own functions.
AGENT_STATUSES = frozenset(
    {
        RequestStatus.OPEN,
        RequestStatus.WAITING_ON_CUSTOMER,
        RequestStatus.WAITING_ON_PARTS,
        RequestStatus.WAITING_ON_THIRD_PARTY,
        RequestStatus.RESOLVED,
        RequestStatus.CLOSED,
    }
)
OUTCOMES = ("upheld", "not_upheld", "settled")
REPLIED = N_("The service desk answered your request %(request)s (%(subject)s).")


def add_reply(
    session: Session,
    actor: User,
    request: ServiceRequest,
    body: str,
    visibility: str,
    settings: ServiceSettings,
    now: datetime,
) -> Message:
    """An agent's reply: customer-visible (counts as a response) or an internal note (never counts)."""
    if not may_work_request(session, actor, request):
        raise Forbidden("you do not work this request's queue")
    if request.status in (RequestStatus.MERGED, RequestStatus.CLOSED):
        raise Conflict("the request is closed")
    if visibility not in Visibility.__members__.values():
        raise InvalidInput("visibility is customer or internal", field="visibility")
    text = clean_text(body, MAX_BODY, "body")
    if not text:
        raise InvalidInput("write a reply", field="body")
    check_sendable(text)
    message = Message(
        request_id=request.id,
        author_user_id=actor.id,
        visibility=visibility,
        body=text,
        via_channel="console",
        created_at=now,
    )
    session.add(message)
    if visibility == Visibility.CUSTOMER:
        on_agent_reply(session, request, now)
        if request.status == RequestStatus.NEW:
            request.status = RequestStatus.OPEN
    request.updated_at = now
    session.flush()
    if visibility == Visibility.CUSTOMER:
        tell_customer(session, request, message, settings, now)
    return message


def tell_customer(
    session: Session, request: ServiceRequest, message: Message, settings: ServiceSettings, now: datetime
) -> None:
    """Tell the customer an agent answered (inbox, text, WeChat), once per reply; internal notes stay silent."""
    customer = session.get(Customer, request.customer_id) if request.customer_id else None
    notify_customer(
        session, customer, "service.replied", REPLIED, params={"request": request.id, "subject": request.subject[:40]},
        now=now, zone=settings.zone, link=f"/service/mine/{request.id}", subject=("service_request", request.id),
        channels=(INBOX, SMS, WECHAT), key=f"message:{message.id}",
    )  # fmt: skip


def add_customer_message(
    session: Session,
    actor: User | None,
    request: ServiceRequest,
    body: str,
    settings: ServiceSettings,
    now: datetime,
    via_channel: str = "page",
) -> Message:
    """The customer writes again: a waiting request moves on, a resolved one reopens, the next response is owed."""
    if actor is not None and not (actor.role == Role.DRIVER and may_see_request(session, actor, request)):
        raise Forbidden("only the customer writes here")
    if request.status in (RequestStatus.MERGED, RequestStatus.CLOSED, RequestStatus.DEFLECTED):
        raise Conflict("the request is closed; open a new one")
    text = clean_text(body, MAX_BODY, "body")
    if not text:
        raise InvalidInput("write a message", field="body")
    message = Message(
        request_id=request.id,
        author_customer_id=request.customer_id,
        visibility=Visibility.CUSTOMER,
        body=text,
        via_channel=via_channel,
        created_at=now,
    )
    session.add(message)
    if request.status in PAUSE_STATUSES or request.status == RequestStatus.RESOLVED:
        _move(session, None, request, RequestStatus.OPEN, settings, now)
    on_customer_message(session, request, settings, now)
    request.updated_at = now
    session.flush()
    return message


def change_status(
    session: Session,
    actor: User,
    request: ServiceRequest,
    status: str,
    settings: ServiceSettings,
    now: datetime,
    *,
    outcome: str | None = None,
    rng: random.Random | None = None,
) -> ServiceRequest:
    """Move a request to a waiting state, back to open, to resolved or closed (an agent of its queue)."""
    if not may_work_request(session, actor, request):
        raise Forbidden("you do not work this request's queue")
    if status not in AGENT_STATUSES:
        raise InvalidInput("unknown status", field="status")
    if request.status in (RequestStatus.MERGED, RequestStatus.DEFLECTED) or (
        request.status == RequestStatus.CLOSED and status != RequestStatus.CLOSED
    ):
        raise Conflict("the request is closed")
    if outcome is not None:
        if outcome not in OUTCOMES:
            raise InvalidInput("outcome is upheld, not_upheld or settled", field="outcome")
        if request.concerns_organization_id is None:
            raise InvalidInput("only complaints about a shop have an outcome", field="outcome")
        request.outcome = outcome
        record_event(session, request, "outcome", actor, to_value=outcome, at=now)
    if status == request.status:
        return request
    done = status in (RequestStatus.RESOLVED, RequestStatus.CLOSED)
    if done and request.concerns_organization_id is not None and request.outcome is None:
        raise InvalidInput("record the complaint's outcome (it is certification evidence)", field="outcome")
    _move(session, actor, request, status, settings, now)
    if status in DONE_STATUSES:
        dispatch_backlog(session, request.queue, now, rng)
    return request


def _move(
    session: Session, actor: User | None, request: ServiceRequest, status: str, settings: ServiceSettings, now: datetime
) -> None:
    old = request.status
    request.status = status
    request.updated_at = now
    on_status_change(session, request, old, status, settings, now)
    if status == RequestStatus.RESOLVED:
        request.resolved_at = now
        on_resolved(session, request, settings, now)
        send_survey(session, request, settings, now)
    elif status == RequestStatus.CLOSED:
        request.closed_at = now
        if old != RequestStatus.RESOLVED:
            on_resolved(session, request, settings, now)
    elif old == RequestStatus.RESOLVED:
        request.resolved_at = None
        on_reopened(session, request, settings, now)
    record_event(session, request, "status", actor, from_value=old, to_value=status, at=now)


def deflect_request(session: Session, actor: User, request: ServiceRequest, now: datetime) -> ServiceRequest:
    """The driver says the knowledge base's answer solved it: the request closes as deflected."""
    if actor.role != Role.DRIVER or not may_see_request(session, actor, request):
        raise Forbidden("only the driver who asked can say it is solved")
    if request.first_responded_at is not None or request.status not in (RequestStatus.NEW, RequestStatus.OPEN):
        raise Conflict("a person is already working on this request")
    old = request.status
    request.status = RequestStatus.DEFLECTED
    request.closed_at = request.updated_at = now
    for clock in request.clocks:
        clock.met_at = clock.met_at or now
    record_event(session, request, "status", actor, from_value=old, to_value=RequestStatus.DEFLECTED, at=now)
    session.flush()
    return request
