"""Moving a request to another queue (never to the queue of the organization a complaint is about)."""

from __future__ import annotations

import random
from datetime import datetime

from sqlalchemy.orm import Session

from app.errors import InvalidInput
from app.security import User
from service.assignment import dispatch_backlog
from service.models import Queue, ServiceRequest
from service.settings import ServiceSettings
from service.sla import reapply_policy
from service.timeline import record_event


def transfer_request(
    session: Session,
    actor: User | None,
    request: ServiceRequest,
    queue: Queue,
    settings: ServiceSettings,
    now: datetime,
    rng: random.Random | None = None,
) -> ServiceRequest:
    """Put the request in `queue`, unassigned; the clocks keep their start and apply the new queue's policy."""
    if request.concerns_organization_id is not None and queue.organization_id == request.concerns_organization_id:
        raise InvalidInput("a complaint never goes to the queue of the shop it is about", field="queue")
    if queue.id == request.queue_id:
        return request
    old = request.queue.code
    request.queue = queue
    request.assignee_id = None
    request.updated_at = now
    session.flush()
    reapply_policy(session, request, settings)
    record_event(session, request, "queued", actor, from_value=old, to_value=queue.code, at=now)
    dispatch_backlog(session, queue, now, rng)
    return request
