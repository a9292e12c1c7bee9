"""Roadside assistance: ask for help, see who is coming, and the shops' accept/decline/complete."""

from __future__ import annotations

from flask import current_app
from pydantic import Field

from app.crm.vehicles import get_vehicle_for
from app.crm.wechat import WECHAT_KEY, templates_to_ask
from app.errors import Forbidden
from app.geo import parse_position
from app.security import Role
from app.web.context import db_session
from app.web.endpoints import SIGNED_IN, Schema, api_words
from app.web.pagination import PageQuery, paginate
from network import acceptance, assistance, desk, rendering
from network.api import api
from network.notices import AFTER_ROADSIDE
from network.shops import find_shop_of_organization, get_shop
from network.web import current_settings, shop_index


class AssistanceIn(Schema):
    lat: float | str
    lon: float | str
    vin: str
    description: str = Field(min_length=1, max_length=assistance.DESCRIPTION_MAX_LENGTH)
    photos: list[str] = Field(default_factory=list, max_length=5, description="photo URLs or upload ids")


class AssignIn(Schema):
    shop: str = Field(min_length=1, max_length=40, description="code of the shop the OEM desk has called")


class AssistanceQuery(PageQuery):
    status: str | None = Field(None, description="open, accepted, escalated, completed or cancelled")


def _request_for(actor, request_id: int):
    session = db_session()
    return assistance.get_request_for(session, actor, request_id)


def _actor_shop(actor):
    shop = find_shop_of_organization(db_session(), actor.organization_id)
    if shop is None:
        raise Forbidden("your account does not belong to a shop")
    return shop


@api.endpoint(
    "POST", "/assistance", access=[Role.DRIVER], body=AssistanceIn, status=201, summary="Ask for roadside help"
)
def create_request(actor, body: AssistanceIn):
    session = db_session()
    settings = current_settings()
    position = parse_position(body.lat, body.lon)
    vehicle = get_vehicle_for(session, actor, body.vin)
    request = assistance.request_assistance(
        session,
        actor,
        vehicle,
        position.lat,
        position.lon,
        body.description,
        body.photos,
        shop_index(session),
        settings,
    )
    # The moment to ask for WeChat grants: who is coming (or that the desk took over) is the next news.
    ask = templates_to_ask(current_app.extensions.get(WECHAT_KEY), AFTER_ROADSIDE)
    return {**rendering.request_to_dict(request, actor, settings.zone), "wechat_subscribe": ask}, 201


@api.endpoint(
    "GET", "/assistance", access=SIGNED_IN, query=AssistanceQuery, summary="List roadside requests you may see"
)
def list_requests(actor, query: AssistanceQuery):
    session = db_session()
    settings = current_settings()
    statement = assistance.select_requests_for(actor, query.status)
    return paginate(session, statement, query, lambda item: rendering.request_to_dict(item, actor, settings.zone))


@api.endpoint("GET", "/assistance/<int:request_id>", access=SIGNED_IN, summary="Show a roadside request")
def show_request(actor, request_id: int):
    request = _request_for(actor, request_id)
    return rendering.request_to_dict(request, actor, current_settings().zone)


@api.endpoint("POST", "/assistance/<int:request_id>/accept", access=[Role.SHOP_STAFF], summary="Take a roadside job")
def accept(actor, request_id: int):
    session = db_session()
    settings = current_settings()
    request = acceptance.accept_request(session, actor, _request_for(actor, request_id), _actor_shop(actor), settings)
    return rendering.request_to_dict(request, actor, settings.zone)


@api.endpoint(
    "POST", "/assistance/<int:request_id>/decline", access=[Role.SHOP_STAFF], summary="Decline a roadside job"
)
def decline(actor, request_id: int):
    session = db_session()
    request = _request_for(actor, request_id)
    acceptance.decline_request(session, actor, request, _actor_shop(actor))
    return rendering.request_to_dict(request, actor, current_settings().zone)


@api.endpoint(
    "GET",
    "/assistance/<int:request_id>/candidates",
    access=[Role.OEM_ADMIN],
    summary="The active shops nearest to a roadside request, for the OEM desk to call",
)
def list_candidates(actor, request_id: int):
    session = db_session()
    settings = current_settings()
    request = _request_for(actor, request_id)
    found = desk.list_candidate_shops(session, shop_index(session), request, settings)
    return {"items": [rendering.candidate_to_dict(shop, distance, settings) for shop, distance in found]}


@api.endpoint(
    "POST",
    "/assistance/<int:request_id>/assign",
    access=[Role.OEM_ADMIN],
    body=AssignIn,
    summary="Give a waiting roadside job to a shop the OEM desk has called",
)
def assign(actor, request_id: int, body: AssignIn):
    session = db_session()
    settings = current_settings()
    shop = get_shop(session, body.shop)
    request = desk.assign_request(session, actor, _request_for(actor, request_id), shop, settings)
    return rendering.request_to_dict(request, actor, settings.zone)


def _close(action: str):
    def view(actor, request_id: int):
        session = db_session()
        request = acceptance.close_request(session, actor, _request_for(actor, request_id), action)
        return rendering.request_to_dict(request, actor, current_settings().zone)

    view.__name__ = f"assistance_{action}"
    return view


for _action, _summary in (
    ("cancel", api_words("Cancel a roadside request")),
    ("complete", api_words("Complete a roadside request")),
):
    api.endpoint(
        "POST",
        f"/assistance/<int:request_id>/{_action}",
        access=SIGNED_IN,
        summary=_summary,
    )(_close(_action))
