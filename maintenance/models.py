"""Maintenance records: plans and their items, a vehicle's plan, meter readings, the schedule per vehicle and item,
service records and the reminders already sent."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.crm.models import Vehicle
from app.db import Base, utcnow


class DutyCycle(StrEnum):
    """How hard a truck works: it chooses the plan (OEM manuals: long haul, short haul, severe)."""

    LONG_HAUL = "long_haul"
    REGIONAL = "regional"
    SEVERE = "severe"


class Rule(StrEnum):
    """Whether an item falls due when the first of its intervals is reached, or only the last."""

    FIRST = "first"
    LATER = "later"


class MeterKind(StrEnum):
    """What a reading measures."""

    KM = "km"
    HOURS = "hours"


class ReadingSource(StrEnum):
    """Who gave a reading."""

    DRIVER = "driver"
    SHOP = "shop"
    TELEMATICS = "telematics"
    # The new meter's first reading, written when a shop or the OEM records that the meter was replaced.
    METER_REPLACED = "meter_replaced"


class Status(StrEnum):
    """An item's state, computed on read from the stored next-due values and today's meters."""

    OK = "ok"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


class MaintenancePlan(Base):
    """One version of an OEM plan for truck models starting with `model_prefix` in one duty cycle."""

    __tablename__ = "maintenance_plans"
    __table_args__ = (UniqueConstraint("code", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40))
    version: Mapped[int] = mapped_column(default=1)
    model_prefix: Mapped[str] = mapped_column(String(100), index=True)
    duty_cycle: Mapped[str] = mapped_column(String(20), default=DutyCycle.LONG_HAUL)
    name_zh: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    # A new version replaces the old one for trucks not yet on a plan; trucks keep the version they started on.
    active: Mapped[bool] = mapped_column(default=True)
    published_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    items: Mapped[list[PlanItem]] = relationship(
        back_populates="plan", order_by="PlanItem.position", cascade="all, delete-orphan"
    )


class PlanItem(Base):
    """A service of a plan: its intervals (km, engine hours, months), the first service and the due-soon margins."""

    __tablename__ = "maintenance_plan_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("maintenance_plans.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    service_code: Mapped[str] = mapped_column(String(40))
    label_zh: Mapped[str] = mapped_column(String(100))
    label_en: Mapped[str] = mapped_column(String(100))
    every_km: Mapped[int | None]
    every_hours: Mapped[int | None]
    every_months: Mapped[int | None]
    rule: Mapped[str] = mapped_column(String(10), default=Rule.FIRST)
    # The first service (首保): an absolute odometer / engine-hours value, months after the sale.
    first_at_km: Mapped[int | None]
    first_at_hours: Mapped[int | None]
    first_at_months: Mapped[int | None]
    soon_km: Mapped[int | None]
    soon_hours: Mapped[int | None]
    soon_days: Mapped[int | None]
    # The shop service (network.models.Service) a booking for this item asks for.
    shop_service: Mapped[str] = mapped_column(String(20), default="maintenance")
    # Genuine part types whose installation during the service is its evidence.
    part_type_ids: Mapped[list] = mapped_column(JSON, default=list)
    warranty_relevant: Mapped[bool] = mapped_column(default=False)

    plan: Mapped[MaintenancePlan] = relationship(back_populates="items")


class VehiclePlan(Base):
    """The plan version a vehicle follows (written on its first meter reading or service)."""

    __tablename__ = "maintenance_vehicle_plans"

    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id", ondelete="CASCADE"), primary_key=True)
    plan_id: Mapped[int] = mapped_column(ForeignKey("maintenance_plans.id"), index=True)
    duty_cycle: Mapped[str] = mapped_column(String(20), default=DutyCycle.LONG_HAUL)
    assigned_at: Mapped[datetime] = mapped_column(default=utcnow)

    vehicle: Mapped[Vehicle] = relationship()
    plan: Mapped[MaintenancePlan] = relationship()


class MeterReading(Base):
    """One odometer or engine-hours reading of a vehicle; they never go backwards in time order."""

    __tablename__ = "maintenance_meter_readings"
    __table_args__ = (Index("ix_maintenance_meter_readings_vehicle_kind_read_at", "vehicle_id", "kind", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    value: Mapped[int]
    read_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(20))
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"), index=True)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # More kilometres a day than a truck can drive: kept, but shown as doubtful.
    flagged: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MeterReplacement(Base):
    """A truck's meter replaced (a new instrument cluster, an engine swap): readings on either side of `replaced_at`
    are judged against their own meter, and the plan's next-due values moved by `new_value - old_value`."""

    __tablename__ = "maintenance_meter_replacements"
    __table_args__ = (Index("ix_maintenance_meter_replacements_vehicle_kind_at", "vehicle_id", "kind", "replaced_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(10))
    replaced_at: Mapped[datetime]
    old_value: Mapped[int]
    new_value: Mapped[int]
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class VehicleSchedule(Base):
    """When one item of a vehicle's plan was last done and falls due next: clock-stable facts only (no status)."""

    __tablename__ = "maintenance_vehicle_schedules"
    __table_args__ = (
        Index("ix_maintenance_vehicle_schedules_next_due_on", "next_due_on"),
        Index("ix_maintenance_vehicle_schedules_next_due_km", "next_due_km"),
    )

    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id", ondelete="CASCADE"), primary_key=True)
    plan_item_id: Mapped[int] = mapped_column(ForeignKey("maintenance_plan_items.id"), primary_key=True)
    last_done_km: Mapped[int | None]
    last_done_hours: Mapped[int | None]
    last_done_on: Mapped[date | None]
    next_due_km: Mapped[int | None]
    next_due_hours: Mapped[int | None]
    next_due_on: Mapped[date | None]
    # initial (from the plan's first service) or booking (reset by a completed booking).
    reset_source: Mapped[str] = mapped_column(String(20), default="initial")
    service_record_id: Mapped[int | None] = mapped_column(ForeignKey("maintenance_service_records.id"))
    # Whether a recommended genuine part was fitted at the last service (None: the item names no part).
    genuine_parts: Mapped[bool | None]

    item: Mapped[PlanItem] = relationship()


class ServiceRecord(Base):
    """A service done on a vehicle: the booking, the meters, the items reset and the genuine parts fitted."""

    __tablename__ = "maintenance_service_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id", ondelete="CASCADE"), index=True)
    booking_id: Mapped[int | None] = mapped_column(ForeignKey("bookings.id"), unique=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    done_at: Mapped[datetime]
    odometer_km: Mapped[int | None]
    engine_hours: Mapped[int | None]
    service_codes: Mapped[list] = mapped_column(JSON, default=list)
    installation_ids: Mapped[list] = mapped_column(JSON, default=list)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))


class Reminder(Base):
    """A reminder sent for one due occurrence of an item (the next-due values it was sent for): never twice."""

    __tablename__ = "maintenance_reminders"
    __table_args__ = (UniqueConstraint("vehicle_id", "plan_item_id", "level", "occurrence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id", ondelete="CASCADE"), index=True)
    plan_item_id: Mapped[int] = mapped_column(ForeignKey("maintenance_plan_items.id"))
    level: Mapped[str] = mapped_column(String(20))
    occurrence: Mapped[str] = mapped_column(String(80))
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
    notification_count: Mapped[int] = mapped_column(default=0)
    touchpoint_id: Mapped[int | None] = mapped_column(ForeignKey("crm_touchpoints.id"))


class ReminderCheck(Base):
    """When the reminder round looks at a truck again, so that a round reads only the trucks it may have news for.

    `check_on` is the first local day on which one of the truck's items reaches a level (due soon, overdue) by the
    calendar; `ASAP` after a reading, a service, a duty-cycle change or a new plan; None when only such a change can
    bring something due. One row per truck, written when the round first meets the truck.
    """

    __tablename__ = "maintenance_reminder_checks"
    __table_args__ = (Index("ix_maintenance_reminder_checks_check_on", "check_on"),)

    vehicle_id: Mapped[int] = mapped_column(ForeignKey("vehicles.id", ondelete="CASCADE"), primary_key=True)
    check_on: Mapped[date | None]
