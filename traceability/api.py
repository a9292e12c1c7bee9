"""Traceability JSON API: catalogue, batches and labels, custody events, scans, alerts, recalls, EPCIS."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

from pydantic import Field

from app.errors import NotFound
from app.security import STAFF_ROLES, Role, require_member
from app.web.context import client_address, code_keyring, db_session, settings
from app.web.endpoints import PUBLIC, ApiBlueprint, Schema
from app.web.pagination import PageQuery, paginate
from traceability import catalogue, commissioning, custody
from traceability.models import Batch

api = ApiBlueprint("traceability_api", __name__, tag="Traceability")
STAFF = sorted(STAFF_ROLES)


class PartTypeIn(Schema):
    part_number: str = Field(min_length=1, max_length=40)
    name_zh: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    category: str = Field(description=", ".join(catalogue.CATEGORIES))
    guide_price: Decimal = Field(ge=0, description="CNY")
    warranty_months: int = Field(ge=0, le=catalogue.MAX_WARRANTY_MONTHS)
    gtin: str | None = Field(None, description="GTIN-8/12/13/14; issued from the OEM's GS1 prefix when absent")
    weight_kg: Decimal | None = Field(None, ge=0)


class PartTypeQuery(PageQuery):
    category: str | None = None
    q: str | None = Field(None, description="part number or name contains")


class BatchIn(Schema):
    part_number: str = Field(min_length=1, max_length=40)
    factory: str | None = Field(None, description="factory code; defaults to the signed-in staff's factory")
    quantity: int = Field(ge=1, description="parts to serialize")
    production_line: str = Field(min_length=1, max_length=40)
    production_date: date
    qc_result: str = Field(description="passed or concession")
    qc_inspector: str = Field(min_length=1, max_length=100)


@api.endpoint("POST", "/part-types", access=[Role.OEM_ADMIN], body=PartTypeIn, status=201, summary="Add a part type")
def create_part_type(actor, body: PartTypeIn):
    part_type = catalogue.create_part_type(
        db_session(), company_prefix=settings()["GS1_COMPANY_PREFIX"], **body.model_dump()
    )
    db_session().commit()
    return catalogue.part_type_to_dict(part_type), 201


@api.endpoint("GET", "/part-types", access=PUBLIC, query=PartTypeQuery, summary="List the part catalogue")
def list_part_types(actor, query: PartTypeQuery):
    statement = catalogue.select_part_types(query.category, query.q)
    return paginate(db_session(), statement, query, catalogue.part_type_to_dict)


@api.endpoint("GET", "/part-types/<part_number>", access=PUBLIC, summary="Show a part type")
def show_part_type(actor, part_number: str):
    return catalogue.part_type_to_dict(catalogue.get_part_type(db_session(), part_number))


@api.endpoint(
    "POST",
    "/batches",
    access=[Role.FACTORY_STAFF, Role.OEM_ADMIN],
    body=BatchIn,
    status=201,
    summary="Commission a production batch and its serialized parts",
)
def create_batch(actor, body: BatchIn):
    session = db_session()
    factory = commissioning.find_factory_for(session, actor, body.factory)
    require_member(actor, factory.id, Role.FACTORY_STAFF)
    batch = commissioning.commission_batch(
        session,
        code_keyring(),
        part_type=catalogue.get_part_type(session, body.part_number),
        factory=factory,
        quantity=body.quantity,
        production_line=body.production_line,
        production_date=body.production_date,
        qc_result=body.qc_result,
        qc_inspector=body.qc_inspector,
        max_quantity=settings()["COMMISSION_MAX_API"],
        created_by=actor,
    )
    session.commit()
    return commissioning.batch_to_dict(batch), 201


def get_batch(batch_id: int) -> Batch:
    batch = db_session().get(Batch, batch_id)
    if batch is None:
        raise NotFound(f"no batch {batch_id}", field="id")
    return batch


@api.endpoint("GET", "/batches", access=[Role.FACTORY_STAFF, Role.OEM_ADMIN], query=PageQuery, summary="List batches")
def list_batches(actor, query: PageQuery):
    statement = commissioning.select_batches_for(actor)
    return paginate(db_session(), statement, query, commissioning.batch_to_dict)


@api.endpoint("GET", "/batches/<int:batch_id>", access=[Role.FACTORY_STAFF, Role.OEM_ADMIN], summary="Show a batch")
def show_batch(actor, batch_id: int):
    batch = get_batch(batch_id)
    require_member(actor, batch.factory_id, Role.FACTORY_STAFF)
    return commissioning.batch_to_dict(batch)


class PartRefIn(Schema):
    gtin: str = Field(max_length=20)
    serial: str = Field(max_length=40)


class EventIn(Schema):
    type: str = Field(description="ship, receive, sell, install, remove, destroy or inspect")
    parts: list[PartRefIn | str] = Field(min_length=1, description="{gtin, serial} objects or scanned code URLs")
    to: str | None = Field(None, description="organization code: ship destination, or the shop a sale goes to")
    vin: str | None = Field(None, description="install/remove: the vehicle")
    activation_code: str | None = Field(None, max_length=40, description="install: the scratch-off code")
    price: Decimal | None = Field(None, description="sell: price in CNY")
    buyer_phone: str | None = Field(None, description="sell: the buying driver's mobile number")
    occurred_at: datetime | None = Field(None, description="ISO 8601 with offset; default now")
    lat: float | str | None = None
    lon: float | str | None = None


def custody_limits() -> custody.CustodyLimits:
    config = settings()
    return custody.CustodyLimits(
        max_parts=config["EVENT_MAX_PARTS"],
        activation_max_failures=config["ACTIVATION_MAX_FAILURES"],
        activation_client_max_failures=config["ACTIVATION_CLIENT_MAX_FAILURES"],
        activation_window=timedelta(seconds=config["ACTIVATION_WINDOW_SECONDS"]),
    )


@api.endpoint(
    "POST",
    "/events",
    access=STAFF,
    body=EventIn,
    status=201,
    summary="Record a custody event for up to EVENT_MAX_PARTS parts, atomically",
)
def create_event(actor, body: EventIn):
    fields = body.model_dump()
    fields["parts"] = [part if isinstance(part, str) else part.model_dump() for part in body.parts]
    request = custody.EventRequest(**fields)
    event = custody.record_event(db_session(), code_keyring(), actor, request, custody_limits(), client_address())
    db_session().commit()
    return custody.event_to_dict(event), 201
