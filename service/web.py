"""What the service views share: settings, the network pieces conversion needs, and the JSON form of a request."""

from __future__ import annotations

from flask import current_app
from sqlalchemy.orm import Session

from app.security import Role, User
from network.web import current_settings as network_settings
from network.web import route_network, shop_index
from service.access import shown_phone
from service.clocks import clock_status
from service.models import ServiceRequest
from service.settings import ServiceSettings, service_settings
from service.sla import request_calendar
from service.timeline import build_timeline
from service.triage import Conversions


def current_settings() -> ServiceSettings:
    """Return the service settings of the running app."""
    return service_settings(current_app.config)


def conversions(session: Session) -> Conversions:
    """Return what triage needs to hand a roadside matter to the assistance flow."""
    return Conversions(index=shop_index(session), network=network_settings())


def routes(session: Session):
    """Return this worker's routes (to put a position on a road and km)."""
    return route_network(session)


def clocks_to_list(request: ServiceRequest, settings: ServiceSettings, now) -> list[dict]:
    """Return the request's clocks with their status now."""
    calendar = request_calendar(request, settings)
    return [
        {
            "kind": clock.kind,
            "status": clock_status(calendar, clock, now, settings.warn_fraction),
            "due_at": clock.due_at.isoformat() if clock.due_at else None,
            "met_at": clock.met_at.isoformat() if clock.met_at else None,
            "breached_at": clock.breached_at.isoformat() if clock.breached_at else None,
        }
        for clock in request.clocks
    ]


def request_to_dict(
    session: Session, request: ServiceRequest, actor: User, settings: ServiceSettings, now, with_timeline: bool = False
) -> dict:
    """Render a request for its viewer: drivers see customer-visible messages only, staff see a masked phone."""
    driver = actor.role == Role.DRIVER
    body = {
        "id": request.id,
        "number": request.number,
        "status": request.status,
        "channel": request.channel,
        "category": request.category,
        "priority": request.priority,
        "subject": request.subject,
        "queue": None if driver else request.queue.code,
        "assigned": request.assignee_id is not None,
        "phone": shown_phone(actor, request),
        "vin": request.vehicle.vin if request.vehicle else None,
        "route": request.route_code,
        "km": request.km,
        "created_at": request.created_at.isoformat(),
        "merged_into": request.merged_into_id,
    }
    if not driver:
        body["clocks"] = clocks_to_list(request, settings, now)
        body["links"] = [{"kind": link.kind, "id": link.ref_id} for link in request.links]
    if with_timeline:
        body["messages"] = [
            {
                "at": entry.message.created_at.isoformat(),
                "visibility": entry.message.visibility,
                "from": "agent" if entry.message.author_user_id else ("auto" if entry.message.is_auto else "customer"),
                "body": entry.message.body,
            }
            for entry in build_timeline(session, request, customer_view=driver)
            if entry.message is not None
        ]
    return body
