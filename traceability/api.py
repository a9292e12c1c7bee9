"""Traceability JSON API: catalogue, batches and labels, custody events, scans, alerts, recalls, EPCIS."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from urllib.parse import urlencode

from flask import Response, current_app, jsonify, render_template, request
from pydantic import Field

from app.clock import local_today, zone
from app.crm.vehicles import get_vehicle_for
from app.db import utcnow
from app.errors import InvalidInput, NotFound
from app.geo import LatLon, parse_position
from app.security import STAFF_ROLES, Role, require_member
from app.web.context import client_address, code_keyring, db_session, report_session, settings
from app.web.endpoints import PUBLIC, SIGNED_IN, ApiBlueprint, QuerySchema, Schema, api_words
from app.web.pagination import PageQuery, page_size, paginate
from traceability import (
    alerts,
    catalogue,
    commissioning,
    custody,
    custody_history,
    custody_input,
    epcis,
    labels,
    recalls,
    records,
    scans,
)
from traceability.codes import parse_digital_link, read_identifiers
from traceability.counterfeit_budget import spent_budgets
from traceability.models import Batch
from traceability.scan_stats import scan_statistics
from traceability.settings import TraceabilitySettings, read_settings

api = ApiBlueprint("traceability_api", __name__, tag="Traceability")
# Bad traceability settings stop the application at start-up, not a request at the worst moment.
api.record_once(lambda state: read_settings(state.app.config))
STAFF = sorted(STAFF_ROLES)


class PartTypeIn(Schema):
    part_number: str = Field(min_length=1, max_length=40)
    name_zh: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    category: str = Field(description=api_words("one of %(values)s", values=", ".join(catalogue.CATEGORIES)))
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
        max_quantity=traceability_settings().commission_max_api,
        created_by=actor,
        today=local_today(settings()),
    )
    return commissioning.batch_to_dict(batch), 201


def get_batch(batch_id: int) -> Batch:
    batch = db_session().get(Batch, batch_id)
    if batch is None:
        raise NotFound("no batch %(batch_id)s", field="id", batch_id=batch_id)
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
    reason: str | None = Field(None, max_length=500, description="remove (required), destroy, inspect: why")


def traceability_settings() -> TraceabilitySettings:
    return read_settings(settings())


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
    request = custody_input.EventRequest(**fields)
    event = custody.record_event(
        db_session(), code_keyring(), actor, request, traceability_settings().custody, client_address()
    )
    return custody_history.event_to_dict(event), 201


class ScanIn(Schema):
    url: str | None = Field(None, max_length=2000, description="the scanned code URL")
    gtin: str | None = None
    serial: str | None = None
    tag: str | None = Field(None, max_length=40)
    lat: float | str | None = None
    lon: float | str | None = None
    intent: str | None = Field(None, description="'buy' when someone is being sold the part")


class StatsQuery(QuerySchema):
    since: datetime | None = None
    until: datetime | None = None


class AlertQuery(PageQuery):
    status: str | None = Field(None, description="open, investigating or closed")
    cause: str | None = None
    province: str | None = Field(None, description="where the scan or report was, else the organization's")


class AlertUpdateIn(Schema):
    status: str
    note: str = Field("", max_length=500)


def scan_position(lat, lon) -> LatLon | None:
    if lat is None and lon is None:
        return None
    if lat is None or lon is None:
        raise InvalidInput("give both lat and lon, or neither", field="lat" if lat is None else "lon")
    return parse_position(lat, lon)


@api.endpoint("POST", "/scans", access=PUBLIC, body=ScanIn, summary="Verify a scanned code and get its verdict")
def create_scan(actor, body: ScanIn):
    if body.url:
        link = parse_digital_link(body.url)
    elif body.gtin or body.serial:
        link = read_identifiers(body.gtin or "", body.serial or "", body.tag or "")
    else:
        raise InvalidInput("send the scanned url, or gtin, serial and tag", field="url")
    return scans.scan_and_render(
        db_session(),
        code_keyring(),
        link,
        position=scan_position(body.lat, body.lon),
        intent=body.intent,
        actor=actor,
        settings=traceability_settings(),
        client=client_address(),
        today=local_today(settings()),
        spent=spent_budgets(current_app.extensions),
    )


@api.endpoint("GET", "/scans/stats", access=[Role.OEM_ADMIN], query=StatsQuery, summary="Scans by province and verdict")
def show_scan_stats(actor, query: StatsQuery):
    return scan_statistics(report_session(), query.since, query.until)


@api.endpoint("GET", "/alerts", access=[Role.OEM_ADMIN], query=AlertQuery, summary="List counterfeit and clone alerts")
def list_alerts(actor, query: AlertQuery):
    statement = alerts.select_alerts(query.status, query.cause, query.province)
    return paginate(db_session(), statement, query, alerts.alert_to_dict)


@api.endpoint("GET", "/alerts/<int:alert_id>", access=[Role.OEM_ADMIN], summary="Show an alert with its reports")
def show_alert(actor, alert_id: int):
    return alerts.alert_to_dict(alerts.get_alert(db_session(), alert_id))


@api.endpoint(
    "PATCH", "/alerts/<int:alert_id>", access=[Role.OEM_ADMIN], body=AlertUpdateIn, summary="Change an alert's status"
)
def update_alert(actor, alert_id: int, body: AlertUpdateIn):
    alert = alerts.update_alert_status(db_session(), actor, alert_id, body.status, body.note)
    return alerts.alert_to_dict(alert)


@api.endpoint(
    "GET",
    "/parts/<gtin>/<serial>",
    access=STAFF,
    summary="A part's full record and event history (OEM and the organizations that held it)",
)
def show_part(actor, gtin: str, serial: str):
    return records.get_part_record(db_session(), actor, gtin, serial)


@api.endpoint("GET", "/vehicles/<vin>/parts", access=SIGNED_IN, summary="Parts installed on a vehicle")
def list_vehicle_parts(actor, vin: str):
    vehicle = get_vehicle_for(db_session(), actor, vin)
    today = local_today(settings())
    return {
        "vin": vehicle.vin,
        "items": records.list_vehicle_parts(db_session(), vehicle, today, settings()["TIMEZONE"]),
    }


class LabelQuery(QuerySchema):
    page: int = Field(
        1, ge=1, description=api_words("%(count)s labels per page, by serial", count=labels.LABELS_PER_PAGE)
    )


def _batch_labels(actor, batch_id: int, page: int):
    batch = get_batch(batch_id)
    labels.ensure_may_print(actor, batch)
    return batch, labels.list_labels(db_session(), code_keyring(), batch, settings()["PUBLIC_BASE_URL"], page)


@api.endpoint(
    "GET",
    "/batches/<int:batch_id>/labels.zip",
    access=[Role.FACTORY_STAFF],
    query=LabelQuery,
    summary="QR label PNGs and manifest.csv with activation codes (the batch's factory staff only)",
    produces="application/zip",
)
def download_labels(actor, batch_id: int, query: LabelQuery):
    batch, items = _batch_labels(actor, batch_id, query.page)
    response = Response(labels.labels_zip(items, batch.lot), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="labels-{batch.lot}-{query.page}.zip"'
    response.headers["Cache-Control"] = "no-store"
    return response


@api.endpoint(
    "GET",
    "/batches/<int:batch_id>/labels.html",
    access=[Role.FACTORY_STAFF],
    query=LabelQuery,
    summary="Print-ready label sheet (A4, 62x40 mm labels, scratch-off activation area)",
    produces="text/html",
)
def print_labels(actor, batch_id: int, query: LabelQuery):
    batch, items = _batch_labels(actor, batch_id, query.page)
    sheet = [(label, labels.qr_svg(label.url)) for label in items]
    response = Response(render_template("traceability/label_sheet.html", batch=batch, labels=sheet))
    response.headers["Cache-Control"] = "no-store"
    return response


class RecallIn(Schema):
    notice_zh: str = Field(min_length=1, max_length=4000)
    notice_en: str = Field(min_length=1, max_length=4000)
    batch: int | None = Field(None, description="recall one batch (its id)")
    part_number: str | None = Field(None, description="recall a part type, optionally by production dates")
    produced_from: date | None = None
    produced_to: date | None = None
    serials: list[PartRefIn] | None = Field(None, description="recall a list of parts")


@api.endpoint("POST", "/recalls", access=[Role.OEM_ADMIN], body=RecallIn, status=201, summary="Recall parts")
def create_recall(actor, body: RecallIn):
    recall = recalls.create_recall(
        db_session(),
        actor,
        notice_zh=body.notice_zh,
        notice_en=body.notice_en,
        batch_id=body.batch,
        part_number=body.part_number,
        produced_from=body.produced_from,
        produced_to=body.produced_to,
        serials=[item.model_dump() for item in body.serials] if body.serials else None,
        zone=zone(settings()),
    )
    return recalls.recall_to_dict(recall), 201


@api.endpoint("GET", "/recalls", access=[Role.OEM_ADMIN], query=PageQuery, summary="List recalls, newest first")
def list_recalls(actor, query: PageQuery):
    return paginate(db_session(), recalls.select_recalls(), query, recalls.recall_to_dict)


@api.endpoint(
    "GET",
    "/recalls/<code>/vehicles",
    access=[Role.OEM_ADMIN],
    query=PageQuery,
    summary="Vehicles with a recalled part installed, and their owners to contact",
)
def list_recall_vehicles(actor, code: str, query: PageQuery):
    recall = recalls.get_recall(db_session(), code)
    page = paginate(db_session(), recalls.select_recall_vehicles(recall), query, recalls.affected_vehicle_to_dict)
    return {"recall": recalls.recall_to_dict(recall), **page}


class EpcisQuery(QuerySchema):
    uri: str | None = Field(None, max_length=2000, description="the part's Digital Link URI (a ?c= tag is ignored)")
    gtin: str | None = Field(None, description="with serial: the part")
    serial: str | None = None
    since: datetime | None = Field(None, description="events that occurred at or after (ISO 8601 with offset)")
    until: datetime | None = Field(None, description="events that occurred before (ISO 8601 with offset)")
    biz_step: str | None = Field(None, description="CBV business step, short name or URI (e.g. shipping)")
    per_page: int | None = Field(None, ge=1, description="events per page (default PAGE_SIZE, at most MAX_PAGE_SIZE)")
    next_page_token: str | None = Field(None, description="from the previous page's Link rel=next")


@api.endpoint(
    "GET",
    "/epcis/events",
    access=STAFF,
    query=EpcisQuery,
    summary="Custody events as an EPCIS 2.0 EPCISDocument (OEM; others: the events they took part in)",
    produces="application/ld+json",
)
def list_epcis_events(actor, query: EpcisQuery):
    config = settings()
    gtin, serial = epcis.read_part_filter(query.uri, query.gtin, query.serial)
    epcis_filter = epcis.EpcisFilter(
        gtin=gtin,
        serial=serial,
        since=epcis.read_time(query.since, "since"),
        until=epcis.read_time(query.until, "until"),
        business_step=epcis.read_business_step(query.biz_step),
        after_id=epcis.read_page_token(query.next_page_token),
    )
    per_page = page_size(query)
    session = report_session()
    events, last = epcis.list_events_page(session, actor, epcis_filter, per_page)
    part = (gtin, serial) if gtin else None
    document = epcis.build_epcis_document(session, events, config["PUBLIC_BASE_URL"], utcnow(), part)
    response = jsonify(document)
    response.mimetype = "application/ld+json"
    if last is not None:
        arguments = {**request.args.to_dict(), "next_page_token": str(last)}
        # The public address, never the request's Host header (a client chooses that one).
        base = config["PUBLIC_BASE_URL"].rstrip("/")
        response.headers["Link"] = f'<{base}{request.path}?{urlencode(arguments)}>; rel="next"'
    return response
