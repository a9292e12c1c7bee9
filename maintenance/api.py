"""Maintenance JSON API: OEM plans (read, publish a version), a truck's items due and its meter readings."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from app.crm.vehicles import find_vehicle, get_vehicle_for
from app.db import utcnow
from app.errors import NotFound
from app.security import Role
from app.web.context import db_session
from app.web.endpoints import SIGNED_IN, ApiBlueprint, Schema
from maintenance import meters, plans, replacement, schedule
from maintenance.models import DutyCycle, ReadingSource, Rule
from maintenance.web import current_settings, vehicle_maintenance

api = ApiBlueprint("maintenance_api", __name__, tag="Maintenance")


class PlanItemIn(Schema):
    service_code: str = Field(min_length=1, max_length=40, description="e.g. engine_oil, fuel_filter, dpf_clean")
    label_zh: str = Field("", max_length=100)
    label_en: str = Field("", max_length=100)
    every_km: int | None = Field(None, ge=1, le=10_000_000)
    every_hours: int | None = Field(None, ge=1, le=10_000_000)
    every_months: int | None = Field(None, ge=1, le=240)
    rule: Rule = Field(Rule.FIRST, description="first: due at whichever interval comes first; later: the last")
    first_at_km: int | None = Field(None, ge=1, le=10_000_000, description="the first service (首保), odometer km")
    first_at_hours: int | None = Field(None, ge=1, le=10_000_000)
    first_at_months: int | None = Field(None, ge=1, le=240, description="months after the sale")
    soon_km: int | None = Field(None, ge=1, le=10_000_000, description="due soon this many km before")
    soon_hours: int | None = Field(None, ge=1, le=10_000_000)
    soon_days: int | None = Field(None, ge=1, le=3650)
    shop_service: str = Field("maintenance", max_length=20, description="the shop service a booking asks for")
    part_type_ids: list[int] = Field(default_factory=list, max_length=50)
    warranty_relevant: bool = False


class PlanIn(Schema):
    code: str = Field(min_length=1, max_length=40)
    model_prefix: str = Field(min_length=1, max_length=100, description="truck models starting with this")
    duty_cycle: DutyCycle = DutyCycle.LONG_HAUL
    name_zh: str = Field("", max_length=200)
    name_en: str = Field("", max_length=200)
    items: list[PlanItemIn] = Field(min_length=1, max_length=40)


class ReplacementIn(Schema):
    kind: str = Field("km", pattern="^(km|hours)$", description="km (odometer) or hours (engine hours)")
    new_value: int = Field(ge=0, le=10_000_000, description="what the new meter reads")
    old_value: int | None = Field(
        None, ge=0, le=10_000_000, description="what the old meter read last (default: its latest reading)"
    )
    replaced_at: datetime | None = Field(None, description="when it was replaced, ISO 8601 with offset (default: now)")


class DutyCycleIn(Schema):
    duty_cycle: DutyCycle = Field(description="long_haul, regional or severe: chooses the plan")


class ReadingIn(Schema):
    kind: str = Field("km", pattern="^(km|hours)$", description="km (odometer) or hours (engine hours)")
    value: int = Field(ge=0, le=10_000_000)
    read_at: datetime | None = Field(None, description="when it was read, ISO 8601 with offset (default: now)")


@api.endpoint("GET", "/maintenance/plans", access=SIGNED_IN, summary="List the current maintenance plans")
def list_plans(actor):
    return {"items": [plans.plan_to_dict(plan) for plan in plans.list_current_plans(db_session())]}


@api.endpoint(
    "POST", "/maintenance/plans", access=[Role.OEM_ADMIN], body=PlanIn, status=201,
    summary="Publish a new version of a maintenance plan",
)  # fmt: skip
def publish_plan(actor, body: PlanIn):
    plan = plans.publish_plan(
        db_session(), actor, code=body.code, model_prefix=body.model_prefix, duty_cycle=body.duty_cycle,
        name_zh=body.name_zh, name_en=body.name_en, items=[item.model_dump() for item in body.items], now=utcnow(),
    )  # fmt: skip
    return plans.plan_to_dict(plan), 201


@api.endpoint("GET", "/maintenance/plans/<code>", access=SIGNED_IN, summary="Show a maintenance plan")
def show_plan(actor, code: str):
    plan = plans.find_current_plan(db_session(), code)
    if plan is None:
        raise NotFound("no such plan", field="code")
    return plans.plan_to_dict(plan)


@api.endpoint("GET", "/vehicles/<vin>/maintenance", access=SIGNED_IN, summary="Show what a truck has due")
def show_vehicle(actor, vin: str):
    session = db_session()
    return vehicle_maintenance(session, get_vehicle_for(session, actor, vin), utcnow(), current_settings())


@api.endpoint(
    "POST", "/vehicles/<vin>/meters", access=[Role.DRIVER, Role.OEM_ADMIN], body=ReadingIn, status=201,
    summary="Record an odometer or engine-hours reading (drivers: their own trucks; the OEM: telematics)",
)  # fmt: skip
def record_meter(actor, vin: str, body: ReadingIn):
    session = db_session()
    vehicle = get_vehicle_for(session, actor, vin)
    now = utcnow()
    source = ReadingSource.DRIVER if actor.role == Role.DRIVER else ReadingSource.TELEMATICS
    reading = meters.record_reading(
        session, actor, vehicle, body.kind, body.value, body.read_at or now, source, now=now,
        max_km_per_day=current_settings().max_km_per_day, field="value",
    )  # fmt: skip
    return meters.reading_to_dict(reading), 201


@api.endpoint(
    "POST", "/vehicles/<vin>/meters/replacements", access=[Role.SHOP_STAFF, Role.OEM_ADMIN], body=ReplacementIn,
    status=201,
    summary="Record a replaced odometer or hour meter (the OEM; a shop with the truck checked in)",
)  # fmt: skip
def replace_meter(actor, vin: str, body: ReplacementIn):
    session = db_session()
    vehicle = find_vehicle(session, vin)
    if vehicle is None or not replacement.may_replace_meter(session, actor, vehicle):
        raise NotFound("no vehicle with VIN %(vin)r that you may see", field="vin", vin=vin)
    now, settings = utcnow(), current_settings()
    recorded = replacement.replace_meter(
        session, actor, vehicle, body.kind, body.new_value, body.replaced_at or now, old_value=body.old_value,
        now=now, max_km_per_day=settings.max_km_per_day, zone=settings.zone,
    )  # fmt: skip
    return replacement.replacement_to_dict(recorded), 201


@api.endpoint(
    "PUT", "/vehicles/<vin>/maintenance/duty-cycle", access=[Role.DRIVER, Role.OEM_ADMIN], body=DutyCycleIn,
    summary="Set a truck's duty cycle (it moves to that plan; shared items keep their last service)",
)  # fmt: skip
def set_duty_cycle(actor, vin: str, body: DutyCycleIn):
    session = db_session()
    vehicle = get_vehicle_for(session, actor, vin)
    settings = current_settings()
    schedule.set_duty_cycle(session, actor, vehicle, body.duty_cycle, settings.zone, utcnow())
    return vehicle_maintenance(session, vehicle, utcnow(), settings)
