"""OEM plans: publishing a new version of a plan with its items, finding the plan a truck follows."""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from datetime import date, datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.crm.activity import record_activity
from app.crm.models import Vehicle
from app.errors import InvalidInput
from app.security import Role, User, require_role
from maintenance.checks import look_again_at_model
from maintenance.models import DutyCycle, MaintenancePlan, PlanItem, Rule, VehiclePlan
from network.models import Service

INTERVALS = ("every_km", "every_hours", "every_months")
WHOLE_FIELDS = (*INTERVALS, "first_at_km", "first_at_hours", "first_at_months", "soon_km", "soon_hours", "soon_days")


def add_months(day: date, months: int) -> date:
    """Return the same day `months` later (the month's last day when it is shorter: 31 Aug + 6 = 28/29 Feb)."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def _check_item(position: int, values: Mapping) -> None:
    prefix = f"items[{position}]"
    if not str(values.get("service_code") or "").strip():
        raise InvalidInput("every item needs a service code", field=f"{prefix}.service_code")
    for name in WHOLE_FIELDS:
        value = values.get(name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= 10**7):
            raise InvalidInput("a positive whole number is needed", field=f"{prefix}.{name}")
    if all(values.get(name) is None for name in INTERVALS):
        raise InvalidInput("give at least one interval: km, engine hours or months", field=f"{prefix}.every_km")
    if values.get("rule", Rule.FIRST) not in Rule.__members__.values():
        raise InvalidInput("rule is first or later", field=f"{prefix}.rule")
    if values.get("shop_service", Service.MAINTENANCE) not in Service.__members__.values():
        raise InvalidInput("unknown shop service", field=f"{prefix}.shop_service")


def publish_plan(
    session: Session,
    actor: User,
    *,
    code: str,
    model_prefix: str,
    duty_cycle: str,
    name_zh: str,
    name_en: str,
    items: Sequence[Mapping],
    now: datetime,
) -> MaintenancePlan:
    """Publish the next version of plan `code`; trucks already on an older version keep it."""
    require_role(actor, Role.OEM_ADMIN)
    code = code.strip()
    if not code:
        raise InvalidInput("a plan needs a code", field="code")
    if not model_prefix.strip():
        raise InvalidInput("name the truck models the plan is for", field="model_prefix")
    if duty_cycle not in DutyCycle.__members__.values():
        raise InvalidInput("duty cycle is long_haul, regional or severe", field="duty_cycle")
    if not items:
        raise InvalidInput("a plan needs at least one item", field="items")
    codes = [str(values.get("service_code") or "").strip() for values in items]
    for position, values in enumerate(items):
        _check_item(position, values)
        if codes.index(codes[position]) != position:
            raise InvalidInput("each service appears once in a plan", field=f"items[{position}].service_code")
    version = (session.scalar(select(func.max(MaintenancePlan.version)).where(MaintenancePlan.code == code)) or 0) + 1
    session.execute(update(MaintenancePlan).where(MaintenancePlan.code == code).values(active=False))
    plan = MaintenancePlan(
        code=code,
        version=version,
        model_prefix=model_prefix.strip(),
        duty_cycle=duty_cycle,
        name_zh=name_zh.strip() or code,
        name_en=name_en.strip() or code,
        active=True,
        published_at=now,
        published_by_id=actor.id,
    )
    for position, values in enumerate(items):
        plan.items.append(
            PlanItem(
                position=position,
                service_code=codes[position],
                label_zh=str(values.get("label_zh") or codes[position])[:100],
                label_en=str(values.get("label_en") or codes[position])[:100],
                rule=values.get("rule", Rule.FIRST),
                shop_service=values.get("shop_service", Service.MAINTENANCE),
                part_type_ids=[int(value) for value in values.get("part_type_ids") or []],
                warranty_relevant=bool(values.get("warranty_relevant")),
                **{name: values.get(name) for name in WHOLE_FIELDS},
            )
        )
    session.add(plan)
    session.flush()
    # Trucks of these models that follow no plan yet start on this version: their due points move.
    look_again_at_model(session, plan.model_prefix)
    record_activity(
        session, actor, "maintenance.plan_published", "maintenance_plan", plan.id, code=code, version=version
    )
    return plan


def list_current_plans(session: Session) -> list[MaintenancePlan]:
    """Return the active version of every plan, by code."""
    return list(
        session.scalars(select(MaintenancePlan).where(MaintenancePlan.active.is_(True)).order_by(MaintenancePlan.code))
    )


def find_current_plan(session: Session, code: str) -> MaintenancePlan | None:
    """Return the active version of plan `code`, if there is one."""
    return session.scalar(select(MaintenancePlan).where(MaintenancePlan.code == code, MaintenancePlan.active.is_(True)))


def match_plan(session: Session, model: str, duty_cycle: str = DutyCycle.LONG_HAUL) -> MaintenancePlan | None:
    """Return the active plan for a truck model and duty cycle: the longest matching model prefix wins."""
    candidates = [
        plan
        for plan in session.scalars(
            select(MaintenancePlan).where(MaintenancePlan.active.is_(True), MaintenancePlan.duty_cycle == duty_cycle)
        )
        if model.upper().startswith(plan.model_prefix.upper())
    ]
    return max(candidates, key=lambda plan: (len(plan.model_prefix), plan.id), default=None)


def plan_of_vehicle(session: Session, vehicle: Vehicle) -> MaintenancePlan | None:
    """Return the plan version the vehicle follows, or the one it would start on today."""
    assigned = session.get(VehiclePlan, vehicle.id)
    if assigned is not None:
        return assigned.plan
    return match_plan(session, vehicle.model)


def plan_to_dict(plan: MaintenancePlan) -> dict:
    """Return a plan version as JSON."""
    return {
        "code": plan.code,
        "version": plan.version,
        "model_prefix": plan.model_prefix,
        "duty_cycle": plan.duty_cycle,
        "name_zh": plan.name_zh,
        "name_en": plan.name_en,
        "active": plan.active,
        "published_at": plan.published_at.isoformat(),
        "items": [
            {
                "service_code": item.service_code,
                "label_zh": item.label_zh,
                "label_en": item.label_en,
                "rule": item.rule,
                "shop_service": item.shop_service,
                "part_type_ids": list(item.part_type_ids or []),
                "warranty_relevant": item.warranty_relevant,
                **{name: getattr(item, name) for name in WHOLE_FIELDS},
            }
            for item in plan.items
        ],
    }
