"""Knowledge JSON API: code lookup and search, articles, faults per vehicle (telematics), fixes, trends."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from pydantic import AwareDatetime, Field
from sqlalchemy import select

from app.crm.vehicles import find_vehicle, get_vehicle_for
from app.db import utcnow
from app.errors import InvalidInput, NotFound
from app.security import STAFF_ROLES, Role
from app.web.context import db_session
from app.web.endpoints import PUBLIC, SIGNED_IN, ApiBlueprint, QuerySchema, Schema
from knowledge import answers, articles, entries, faults, fixes
from knowledge.codes import MAX_SOURCE_ADDRESS, parse_code, parse_dm1
from knowledge.models import VehicleFault
from network.models import Booking
from traceability.models import PartType

api = ApiBlueprint("knowledge_api", __name__, tag="Knowledge")


class LookupQuery(QuerySchema):
    code: str = Field(description="SPN 100 FMI 1, 3251/0, spn3251fmi0, P20EE, 闪码 2-2-1 ...", max_length=200)
    vin: str | None = Field(None, description="the driver's own truck: entries for its engine and emission stage")
    lang: str = Field("zh", description="zh or en")


class SearchQuery(QuerySchema):
    q: str = Field(description="words in Chinese or English, a code, a symptom", max_length=100)
    lang: str = "zh"


class FaultReportIn(Schema):
    codes: list[str] = Field(default_factory=list, max_length=64, description="codes as text (3251/0, P20EE...)")
    dm1: str | None = Field(None, max_length=4000, description="raw DM1 bytes as hex: lamp, flash, 4 bytes per DTC")
    source_address: int | None = Field(None, ge=0, le=MAX_SOURCE_ADDRESS, description="the ECU that sent them")
    snapshot: bool = Field(False, description="the codes are all the ECU's active codes: others become inactive")
    observed_at: AwareDatetime | None = Field(None, description="when the platform read them (ISO 8601 with offset)")


class CheckInFaultsIn(Schema):
    codes: list[str] = Field(min_length=1, max_length=64)


class FixIn(Schema):
    fault_id: int = Field(ge=1, le=2**63 - 1)
    kind: str = Field(description="part_replaced, wiring, cleaning, software, adjustment, refill, no_fault_found")
    part_number: str | None = Field(None, max_length=40, description="the part type fitted (part_replaced only)")
    note: str = Field("", max_length=500)


class ArticleIn(Schema):
    slug: str = Field(max_length=100)
    title: dict[str, str]
    body: dict[str, str]
    codes: list[str] = Field(default_factory=list, max_length=50)
    part_categories: list[str] = Field(default_factory=list, max_length=50)
    models: list[str] = Field(default_factory=list, max_length=50)
    publish: bool = False


class TrendQuery(QuerySchema):
    days: int = Field(30, ge=1, le=366, description="codes seen within this many days")


def _language(value: str) -> str:
    return "en" if value == "en" else "zh"


def _own_vehicle(actor, vin: str | None):
    """Return the actor's own truck named by `vin` (drivers; others look codes up without one)."""
    if not vin:
        return None
    if actor is None or actor.role != Role.DRIVER:
        raise InvalidInput("vin is for a driver's own truck", field="vin")
    return get_vehicle_for(db_session(), actor, vin)


@api.endpoint("GET", "/faults/lookup", access=PUBLIC, query=LookupQuery, summary="What a fault code means, what to do")
def lookup(actor, query: LookupQuery):
    session = db_session()
    vehicle = _own_vehicle(actor, query.vin)
    return answers.answer_to_dict(answers.answer_code(session, query.code, vehicle), _language(query.lang))


@api.endpoint("GET", "/faults/search", access=PUBLIC, query=SearchQuery, summary="Search entries and articles")
def search(actor, query: SearchQuery):
    session = db_session()
    language = _language(query.lang)
    return {
        "entries": [entries.entry_to_dict(entry, language) for entry in entries.search_entries(session, query.q)],
        "articles": [articles.article_to_dict(item, language) for item in articles.search_articles(session, query.q)],
    }


def _vehicle_for_platform(vin: str):
    vehicle = find_vehicle(db_session(), vin)
    if vehicle is None:
        raise NotFound(f"no vehicle with VIN {vin!r}", field="vin")
    return vehicle


@api.endpoint(
    "POST",
    "/vehicles/<vin>/faults",
    access=sorted(STAFF_ROLES),
    body=FaultReportIn,
    summary="A telematics platform reports a truck's fault codes (the OEM's, or the truck's fleet's account)",
)
def report_faults(actor, vin: str, body: FaultReportIn):
    session = db_session()
    vehicle = _vehicle_for_platform(vin)
    codes = [parse_code(text) for text in body.codes]
    lamps = None
    if body.dm1 is not None:
        message = parse_dm1(body.dm1, body.source_address)
        codes += message.codes
        lamps = message.lamps
    elif body.source_address is not None:
        codes = [replace(code, source_address=body.source_address) for code in codes]
    reported, cleared = faults.record_telematics_report(
        session,
        actor,
        vehicle,
        codes,
        lamps=lamps,
        snapshot=body.snapshot,
        source_address=body.source_address,
        seen_at=body.observed_at,
    )
    return {
        "vin": vehicle.vin,
        "reported": [faults.fault_to_dict(fault) for fault in reported],
        "inactive": [faults.fault_to_dict(fault) for fault in cleared],
    }


@api.endpoint("GET", "/vehicles/<vin>/faults", access=SIGNED_IN, summary="A truck's fault history")
def vehicle_faults(actor, vin: str):
    session = db_session()
    vehicle = find_vehicle(session, vin)
    if vehicle is None or not faults.may_see_faults(actor, vehicle):
        raise NotFound(f"no vehicle with VIN {vin!r} that you may see", field="vin")
    return {
        "vin": vehicle.vin,
        "items": [faults.fault_to_dict(fault) for fault in faults.list_vehicle_faults(session, vehicle)],
    }


def _booking(booking_id: int) -> Booking:
    booking = db_session().get(Booking, booking_id)
    if booking is None:
        raise NotFound("no such booking", field="booking")
    return booking


@api.endpoint(
    "POST",
    "/bookings/<int:booking_id>/faults",
    access=[Role.SHOP_STAFF, Role.OEM_ADMIN],
    body=CheckInFaultsIn,
    status=201,
    summary="The booked shop enters the codes it reads at check-in",
)
def check_in_faults(actor, booking_id: int, body: CheckInFaultsIn):
    recorded = faults.record_check_in_faults(
        db_session(), actor, _booking(booking_id), [parse_code(text) for text in body.codes]
    )
    return {"items": [faults.fault_to_dict(fault) for fault in recorded]}, 201


@api.endpoint(
    "POST",
    "/bookings/<int:booking_id>/fixes",
    access=[Role.SHOP_STAFF, Role.OEM_ADMIN],
    body=FixIn,
    status=201,
    summary="The booked shop records what fixed a fault",
)
def record_fix(actor, booking_id: int, body: FixIn):
    session = db_session()
    booking = _booking(booking_id)
    fault = session.get(VehicleFault, body.fault_id)
    if fault is None or fault.vehicle_id != booking.vehicle_id:
        raise NotFound("no such fault on the booked truck", field="fault_id")
    part_type = None
    if body.part_number:
        part_type = session.scalar(select(PartType).where(PartType.part_number == body.part_number))
        if part_type is None:
            raise InvalidInput(f"no part type {body.part_number!r}", field="part_number")
    fix = fixes.record_booking_fix(session, actor, booking, fault, body.kind, part_type=part_type, note=body.note)
    return {"id": fix.id, "fault_id": fault.id, "kind": fix.kind, "case_ref": fix.case_ref}, 201


@api.endpoint("GET", "/faults/trends", access=[Role.OEM_ADMIN], query=TrendQuery, summary="Codes by model and province")
def trends(actor, query: TrendQuery):
    since = utcnow() - timedelta(days=query.days)
    return {"days": query.days, "items": fixes.fault_trends(db_session(), since)}


@api.endpoint("POST", "/articles", access=[Role.OEM_ADMIN], body=ArticleIn, status=201, summary="Write an article")
def create_article(actor, body: ArticleIn):
    fields = body.model_dump(exclude={"slug", "title", "body"})
    article = articles.save_article(db_session(), actor, body.slug, body.title, body.body, **fields)
    return articles.article_to_dict(article, with_body=True), 201


@api.endpoint("PUT", "/articles/<slug>", access=[Role.OEM_ADMIN], body=ArticleIn, summary="Rewrite an article")
def replace_article(actor, slug: str, body: ArticleIn):
    session = db_session()
    current = articles.get_article(session, slug, actor)
    fields = body.model_dump(exclude={"slug", "title", "body"})
    article = articles.save_article(session, actor, body.slug, body.title, body.body, article=current, **fields)
    return articles.article_to_dict(article, with_body=True)


@api.endpoint("GET", "/articles/<slug>", access=PUBLIC, summary="Read an article (sanitized HTML)")
def show_article(actor, slug: str):
    return articles.article_to_dict(articles.get_article(db_session(), slug, actor), with_body=True)
