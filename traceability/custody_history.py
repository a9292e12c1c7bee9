"""Custody history: a part's events and installations as the chain's organizations read them."""

from __future__ import annotations

from collections import namedtuple
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    CompoundSelect,
    ScalarSelect,
    Select,
    Subquery,
    bindparam,
    cast,
    func,
    select,
    union_all,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.orm import Session, joinedload

from app.crm.models import Organization, Vehicle
from app.crm.relations import register_vehicle_relation
from app.db import as_utc, is_postgresql
from traceability.driver_sql import DriverStatement
from traceability.models import CustodyEvent, CustodyEventPart, EventType, Installation, Part

# What an event's rendering names, loaded with the events in one statement.
EVENT_NAMES = (
    joinedload(CustodyEvent.organization),
    joinedload(CustodyEvent.destination),
    joinedload(CustodyEvent.vehicle),
)

# What a truck's list of installed parts shows of each: one statement for any number of parts.
INSTALLATION_NAMES = (
    joinedload(Installation.part).joinedload(Part.part_type),
    joinedload(Installation.part).joinedload(Part.recall),
    joinedload(Installation.organization),
)


def find_open_installation(session: Session, part: Part) -> Installation | None:
    """Return the installation that currently holds a part on a vehicle, if any."""
    return session.scalar(
        select(Installation).where(Installation.part_id == part.id, Installation.removed_at.is_(None))
    )


def list_vehicle_installations(session: Session, vehicle: Vehicle) -> list[Installation]:
    """Return the parts currently installed on a vehicle, newest first, with what the truck page shows of each
    (part type, recall, installer) loaded in the same statement."""
    return list(
        session.scalars(
            select(Installation)
            .options(*INSTALLATION_NAMES)
            .where(Installation.vehicle_id == vehicle.id, Installation.removed_at.is_(None))
            .order_by(Installation.installed_at.desc())
        )
    )


def list_part_events(session: Session, part) -> list[CustodyEvent]:
    """Return a part's custody events (commissioning first), oldest first, with the organizations and vehicle
    they name; `part` has id and batch_id."""
    statement = (
        select(CustodyEvent)
        .options(*EVENT_NAMES)
        .where(CustodyEvent.id.in_(select_part_event_ids(part.id, part.batch_id)))
        .order_by(CustodyEvent.occurred_at, CustodyEvent.id)
    )
    return list(session.scalars(statement))


# A part's custody event as the public page names it.
JourneyEvent = namedtuple("JourneyEvent", ["occurred_at", "business_step", "city", "kind", "id"])


def _journey(named: ColumnElement[bool], commissioned: ColumnElement[bool]) -> Subquery:
    """A part's events as the public page names them: date, business step and the acting organization's city
    and kind, as plain rows (no ORM objects): the events `named` and the batch's commissioning
    (`commissioned`), a UNION of two indexed selects (an OR would leave no index)."""
    organizations = Organization.__table__

    def events(where: ColumnElement[bool]) -> Select:
        return (
            select(
                CustodyEvent.occurred_at,
                CustodyEvent.business_step,
                organizations.c.city,
                organizations.c.kind,
                CustodyEvent.id,
            )
            .join_from(CustodyEvent, organizations, organizations.c.id == CustodyEvent.organization_id)
            .where(where)
        )

    return union_all(events(named), events(commissioned)).subquery("journey")


def _oldest_first(journey: Subquery) -> DriverStatement:
    return DriverStatement(select(journey).order_by(journey.c.occurred_at, journey.c.id))


COMMISSION = (CustodyEvent.batch_id == bindparam("batch_id")) & (CustodyEvent.event_type == EventType.COMMISSION)


# PostgreSQL: the part's event keys (ids and months) come first, then the events are read by both, so only their
# months' partitions are planned and read (custody_events is partitioned by month of occurred_at).
def select_event_keys(part_id: ColumnElement) -> tuple[ScalarSelect, ScalarSelect]:
    """Return the ids and the occurred_at of the events naming a part, as two arrays (for a statement's columns)."""
    named = select(CustodyEventPart.event_id, CustodyEventPart.occurred_at).where(CustodyEventPart.part_id == part_id)
    # A column of an enclosing statement's part (the scan read's) is that part's: never a FROM of its own.
    keys = named.correlate_except(CustodyEventPart).subquery()
    ids = select(func.array_agg(keys.c.event_id))
    times = select(func.array_agg(keys.c.occurred_at))
    return ids.scalar_subquery().label("event_ids"), times.scalar_subquery().label("event_times")


def _journey_by_keys() -> Subquery:
    """The journey of the events by the keys bound as `ids` and `times`, and of the commissioning of the batch
    bound as `batch_id` at `commissioned_at` (PostgreSQL)."""
    return _journey(
        # Cast: psycopg would send a list of ints as numeric[], and a bigint compared to numeric uses no index.
        (CustodyEvent.id == func.any(cast(bindparam("ids"), ARRAY(BigInteger))))
        & (CustodyEvent.occurred_at == func.any(cast(bindparam("times"), ARRAY(CustodyEvent.occurred_at.type)))),
        # The batch keeps its commissioning's occurred_at: one month's partition is planned, not every one since
        # the production date (each partition the planner keeps costs planning time on every page view).
        COMMISSION & (CustodyEvent.occurred_at == bindparam("commissioned_at", type_=CustodyEvent.occurred_at.type)),
    )


def packed_journey_by_keys() -> ScalarSelect:
    """The journey by keys (as bound for `_journey_by_keys`) as one JSON array of [occurred_at, business_step,
    city, kind, id] arrays, oldest first (NULL when empty): another statement's column (PostgreSQL)."""
    journey = _journey_by_keys()
    columns = journey.c
    row = func.json_build_array(columns.occurred_at, columns.business_step, columns.city, columns.kind, columns.id)
    packed = func.json_agg(aggregate_order_by(row, columns.occurred_at, columns.id))
    return select(packed).select_from(journey).scalar_subquery()


def unpacked_journey(packed: list | None) -> list[JourneyEvent]:
    """Return the rows of a `packed_journey_by_keys` column, as the journey's own statements return them."""
    return [JourneyEvent(as_utc(datetime.fromisoformat(occurred_at)), *rest) for occurred_at, *rest in packed or ()]


def journey_keys(event_ids: list | None, event_times: list | None, batch_id: int, commissioned_at: datetime) -> dict:
    """Return the parameters of the journey by keys (a part's `select_event_keys` columns, its batch)."""
    # No row names the part: the keys are NULL arrays.
    keys = {"ids": event_ids or [], "times": event_times or []}
    return {**keys, "batch_id": batch_id, "commissioned_at": commissioned_at}


EVENT_KEYS = DriverStatement(select(*select_event_keys(bindparam("part_id"))))
JOURNEY_BY_KEYS = _oldest_first(_journey_by_keys())
# SQLite has no partitions: one statement.
JOURNEY = _oldest_first(
    _journey(
        CustodyEvent.id.in_(select(CustodyEventPart.event_id).where(CustodyEventPart.part_id == bindparam("part_id"))),
        COMMISSION,
    )
)


def list_part_journey(
    session: Session, part_id: int, batch_id: int, commissioned_at: datetime, keys: tuple[list, list] | None = None
) -> list:
    """Return a part's custody events for the public page as rows of occurred_at, business_step, city and kind,
    oldest first (the batch's commissioning, which occurred at `commissioned_at`, among them). On PostgreSQL
    `keys` are the ids and occurred_at of the events naming the part if already read (`select_event_keys`)."""
    if not is_postgresql(session):
        return JOURNEY.all(session, {"part_id": part_id, "batch_id": batch_id})
    if keys is None:
        keys = tuple(EVENT_KEYS.first(session, {"part_id": part_id}))
    return JOURNEY_BY_KEYS.all(session, journey_keys(*keys, batch_id, commissioned_at))


def select_part_event_ids(part_id, batch_id) -> CompoundSelect:
    """Return the query for the ids of the events that name a part or commission its batch."""
    # A UNION of two indexed selects: an OR of the two conditions leaves PostgreSQL no index to use, and it
    # walks the whole event table (D-06).
    named = select(CustodyEventPart.event_id).where(CustodyEventPart.part_id == part_id)
    commissioned = select(CustodyEvent.id).where(
        CustodyEvent.batch_id == batch_id, CustodyEvent.event_type == EventType.COMMISSION
    )
    return union_all(named, commissioned)


def price_text(value: Decimal | None) -> str | None:
    """Render an amount in CNY with two decimals."""
    return None if value is None else f"{value:.2f}"


def event_to_dict(event: CustodyEvent) -> dict:
    """Render a custody event for the organizations in the chain (no personal data)."""
    offset = timedelta(minutes=event.occurred_offset_minutes)
    return {
        "id": event.id,
        "sequence": event.sequence,
        "type": event.event_type,
        "business_step": event.business_step,
        "disposition": event.disposition,
        "occurred_at": event.occurred_at.astimezone(timezone(offset)).isoformat(),
        "recorded_at": event.recorded_at.isoformat(),
        "organization": event.organization.code,
        "city": event.organization.city,
        "to": event.destination.code if event.destination else None,
        "vin": event.vehicle.vin if event.vehicle else None,
        "price": price_text(event.price),
        "part_count": event.part_count,
        "hash": event.hash,
    }


def _serviced_by(organization_id: int):
    return select(Installation.vehicle_id).where(Installation.organization_id == organization_id)


# The staff of a shop that installed parts on a truck see that truck (app.crm.relations).
register_vehicle_relation(_serviced_by)
