"""Who may see and work which request, and phone numbers masked until revealed (each reveal is logged)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from app.crm.identifiers import mask_phone
from app.errors import Forbidden, NotFound
from app.security import Role, User
from service.assignment import is_member
from service.models import ServiceRequest
from service.timeline import record_event


def may_see_request(session: Session, actor: User | None, request: ServiceRequest) -> bool:
    """Drivers see their own requests; staff the requests of queues they work; the OEM all of them.

    A complaint about an organization is never visible to that organization's staff, whatever its queue.
    """
    if actor is None:
        return False
    if actor.role == Role.DRIVER:
        return request.customer is not None and request.customer.user_id == actor.id
    if request.concerns_organization_id is not None and actor.organization_id == request.concerns_organization_id:
        return False
    if actor.role == Role.OEM_ADMIN:
        return True
    return is_member(session, actor, request.queue_id)


def get_request_for(session: Session, actor: User | None, request_id: int) -> ServiceRequest:
    """Return a request the actor may see; one they may not see does not exist for them (404)."""
    request = session.get(ServiceRequest, request_id)
    if request is None or not may_see_request(session, actor, request):
        raise NotFound("no such request")
    return request


def may_work_request(session: Session, actor: User, request: ServiceRequest) -> bool:
    """Tell whether the actor may reply to and change the request (a member of its queue)."""
    return (
        actor.role != Role.DRIVER
        and is_member(session, actor, request.queue_id)
        and may_see_request(session, actor, request)
    )


def shown_phone(actor: User | None, request: ServiceRequest) -> str | None:
    """Return the caller's number as the actor sees it: the customer their own, staff masked until revealed."""
    if actor is not None and actor.role == Role.DRIVER:
        return request.phone
    return mask_phone(request.phone)


def reveal_phone(session: Session, actor: User, request: ServiceRequest) -> str | None:
    """Show the full number to the assigned agent or the queue's supervisor, and log who saw it when."""
    if not may_see_request(session, actor, request):
        raise NotFound("no such request")
    if actor.id not in (request.assignee_id, request.queue.supervisor_id):
        raise Forbidden("only the assigned agent sees the full number")
    record_event(session, request, "phone_revealed", actor)
    return request.phone
