"""Service desk JSON API: requests for the mini-program and integrations, the agents' actions, surveys, figures."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from sqlalchemy import select

from app.crm.customers import find_customer_for_user
from app.db import utcnow
from app.errors import NotFound
from app.security import Role
from app.web.context import db_session
from app.web.endpoints import PUBLIC, ApiBlueprint, QuerySchema, Schema
from service import access, assignment, intake, replies, surveys
from service.figures import DIMENSIONS, compute_figures
from service.models import OPEN_STATUSES, ServiceRequest
from service.queues import memberships_of
from service.settings import service_settings
from service.web import conversions, current_settings, request_to_dict, routes

api = ApiBlueprint("service_api", __name__, tag="Service")
# Bad service settings stop the application at start-up (ConfigError names them), not the first request.
api.record_once(lambda state: service_settings(state.app.config))
STAFF = (Role.OEM_ADMIN, Role.SHOP_STAFF, Role.DEALER_STAFF)


class RequestIn(Schema):
    category: str = Field(max_length=30, description="fault, roadside, booking, counterfeit, recall, parts, ...")
    text: str = Field("", max_length=intake.MAX_BODY)
    vin: str | None = Field(None, max_length=17, description="one of the driver's trucks")
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    codes: list[str] = Field(default_factory=list, max_length=20, description="fault codes as the driver has them")
    callback: bool = Field(False, description="call me back instead of typing")
    locale: str = Field("zh", pattern="^(zh|en)$")


class CallIn(Schema):
    phone: str = Field(max_length=30)
    name: str = Field("", max_length=100)
    category: str = Field(max_length=30)
    text: str = Field(min_length=1, max_length=intake.MAX_BODY)
    vin: str | None = Field(None, max_length=17)


class ReplyIn(Schema):
    body: str = Field(min_length=1, max_length=intake.MAX_BODY)
    visibility: str = Field("customer", pattern="^(customer|internal)$")


class MessageIn(Schema):
    body: str = Field(min_length=1, max_length=intake.MAX_BODY)


class StatusIn(Schema):
    status: str = Field(max_length=30)
    outcome: str | None = Field(None, max_length=20, description="for complaints: upheld, not_upheld or settled")


class SurveyIn(Schema):
    solved: bool
    stars: int = Field(ge=1, le=5)
    comment: str = Field("", max_length=1000)


class FiguresQuery(QuerySchema):
    days: int = Field(30, ge=1, le=366)


def _visible(request_id: int, actor) -> ServiceRequest:
    return access.get_request_for(db_session(), actor, request_id)


def _render(request: ServiceRequest, actor, with_timeline: bool = False) -> dict:
    return request_to_dict(db_session(), request, actor, current_settings(), utcnow(), with_timeline)


@api.endpoint(
    "POST", "/service/requests", access=(Role.DRIVER,), summary="Open a service request", body=RequestIn, status=201
)
def create_request(actor, body: RequestIn):
    session = db_session()
    request = intake.submit_driver_request(
        session,
        actor,
        category=body.category,
        text=body.text,
        vin=body.vin,
        lat=body.lat,
        lon=body.lon,
        channel="api",
        settings=current_settings(),
        now=utcnow(),
        codes=body.codes,
        locale=body.locale,
        callback=body.callback,
        conversions=conversions(session),
        routes=routes(session),
    )
    return _render(request, actor, with_timeline=True), 201


@api.endpoint("GET", "/service/requests", access=(Role.DRIVER, *STAFF), summary="My requests, or my queues' open ones")
def list_requests(actor):
    session = db_session()
    statement = select(ServiceRequest).order_by(ServiceRequest.created_at.desc()).limit(100)
    if actor.role == Role.DRIVER:
        customer = find_customer_for_user(session, actor)
        statement = statement.where(ServiceRequest.customer_id == (customer.id if customer else -1))
    else:
        queue_ids = [member.queue_id for member in memberships_of(session, actor)]
        statement = statement.where(
            ServiceRequest.queue_id.in_(queue_ids),
            ServiceRequest.status.in_([status.value for status in OPEN_STATUSES]),
        )
    found = [r for r in session.scalars(statement) if access.may_see_request(session, actor, r)]
    return {"items": [_render(request, actor) for request in found]}


@api.endpoint("GET", "/service/requests/<int:request_id>", access=(Role.DRIVER, *STAFF), summary="One request")
def get_request(actor, request_id: int):
    return _render(_visible(request_id, actor), actor, with_timeline=True)


@api.endpoint("POST", "/service/requests/<int:request_id>/take", access=STAFF, summary="Take an unassigned request")
def take(actor, request_id: int):
    request = assignment.take_request(db_session(), actor, _visible(request_id, actor), utcnow())
    return _render(request, actor)


@api.endpoint(
    "POST",
    "/service/requests/<int:request_id>/replies",
    access=STAFF,
    summary="Reply or add a note",
    body=ReplyIn,
    status=201,
)
def reply(actor, request_id: int, body: ReplyIn):
    request = _visible(request_id, actor)
    replies.add_reply(db_session(), actor, request, body.body, body.visibility, current_settings(), utcnow())
    return _render(request, actor, with_timeline=True), 201


@api.endpoint(
    "POST",
    "/service/requests/<int:request_id>/messages",
    access=(Role.DRIVER,),
    summary="The customer writes again",
    body=MessageIn,
    status=201,
)
def write(actor, request_id: int, body: MessageIn):
    request = _visible(request_id, actor)
    replies.add_customer_message(db_session(), actor, request, body.body, current_settings(), utcnow(), "api")
    return _render(request, actor, with_timeline=True), 201


@api.endpoint(
    "POST", "/service/requests/<int:request_id>/status", access=STAFF, summary="Change the status", body=StatusIn
)
def set_status(actor, request_id: int, body: StatusIn):
    request = _visible(request_id, actor)
    replies.change_status(db_session(), actor, request, body.status, current_settings(), utcnow(), outcome=body.outcome)
    return _render(request, actor)


@api.endpoint(
    "POST",
    "/service/requests/<int:request_id>/deflect",
    access=(Role.DRIVER,),
    summary="The knowledge base's answer solved it",
)
def deflect(actor, request_id: int):
    request = replies.deflect_request(db_session(), actor, _visible(request_id, actor), utcnow())
    return _render(request, actor)


@api.endpoint(
    "POST",
    "/service/requests/<int:request_id>/reveal-phone",
    access=STAFF,
    summary="Show the caller's full number (logged)",
)
def reveal(actor, request_id: int):
    return {"phone": access.reveal_phone(db_session(), actor, _visible(request_id, actor))}


@api.endpoint("POST", "/service/calls", access=STAFF, summary="Log a phone call as a request", body=CallIn, status=201)
def log_call(actor, body: CallIn):
    request = intake.log_phone_call(
        db_session(),
        actor,
        phone=body.phone,
        caller_name=body.name,
        category=body.category,
        text=body.text,
        vin=body.vin,
        settings=current_settings(),
        now=utcnow(),
    )
    return _render(request, actor), 201


@api.endpoint("POST", "/service/surveys/<token>", access=PUBLIC, summary="Answer a satisfaction survey", body=SurveyIn)
def answer(actor, token: str, body: SurveyIn):
    survey = surveys.answer_survey(
        db_session(), token, solved=body.solved, stars=body.stars, comment=body.comment, now=utcnow()
    )
    return {"answered_at": survey.answered_at.isoformat(), "stars": survey.stars}


@api.endpoint(
    "GET",
    "/service/figures",
    access=(Role.OEM_ADMIN,),
    summary="Backlog, SLA, first response, deflection and satisfaction by queue, agent, category and channel",
    query=FiguresQuery,
)
def figures(actor, query: FiguresQuery):
    now = utcnow()
    table = compute_figures(db_session(), now - timedelta(days=query.days), now)
    if not table:
        raise NotFound("no figures")
    return {
        dimension: {
            key: {
                "requests": group.requests,
                "backlog": group.backlog,
                "sla_attainment": group.sla_attainment,
                "median_first_response_minutes": group.median_first_response,
                "deflection_rate": group.deflection_rate,
                "satisfaction": group.satisfaction,
                "survey_answers": group.survey_answers,
            }
            for key, group in table[dimension].items()
        }
        for dimension in DIMENSIONS
    }
