"""The statements of a scan: the one read of a part with everything its verdict shows, and the write that
stores the scan with the part's kept clone state.

A scan is the hottest request Milepost serves, so both statements run through `DriverStatement` (no
SQLAlchemy execution layer) and the read is shaped for PostgreSQL's planner: the rows the scan only shows
(part type, batch and factory, recall, seller, installation) come as JSON arrays from scalar subqueries
instead of an eight-way join: the join took about 1.7 ms to plan, the subqueries take about 0.2 ms. psycopg
prepares a statement after its fifth run and forgets every prepared statement on a ROLLBACK. Requests end
in COMMIT (app.web.transaction), reads included, so a worker's read stays prepared: on the full year 0.64 ms
a read prepared, 1.5 ms planned afresh (measured 8 December). A failed request's rollback makes them start over.
The scan page's write carries the journey, whose partitions are pruned at plan time, so that statement is
planned on every call.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, FromClause, ScalarSelect, Select, String, bindparam, cast, func, select
from sqlalchemy.orm import Session

from app.crm.models import Organization, Vehicle
from app.db import as_utc, is_postgresql
from traceability.custody_history import journey_keys, packed_journey_by_keys, select_event_keys, unpacked_journey
from traceability.driver_sql import DriverStatement, json_array
from traceability.models import Batch, Installation, Part, PartType, Recall, SalePriceRange, Scan

# The columns a scan writes back (besides the count): the last located scan and the recent distinct cities.
SCAN_STATE = ("scan_count", "last_scan_number", "last_scan_lat", "last_scan_lon", "last_scan_at", "scan_cities")
PART_COLUMNS = ("id", "gtin", "serial", "state", "holder_id", "recall_id", "sold_at", *SCAN_STATE)
# What a scan shows of the seller or installer: reviews writes rating and tier onto the organization.
STANDING_COLUMNS = ("name", "city", "rating", "rating_count", "certification_tier")


class ScannedPart(NamedTuple):
    """What a scan reads of a part: identity, custody and kept clone state, and the records it shows."""

    id: int
    gtin: str
    serial: str
    state: str
    holder_id: int | None
    recall_id: int | None
    sold_at: datetime | None
    scan_count: int
    last_scan_number: int | None
    last_scan_lat: float | None
    last_scan_lon: float | None
    last_scan_at: datetime | None
    scan_cities: list | None
    chain_places: list | None
    alert_signals: int
    part_number: str
    name_zh: str
    name_en: str
    category: str
    guide_price: Decimal
    warranty_months: int
    lot: str
    production_date: date
    production_line: str
    qc_result: str
    commissioned_at: datetime
    factory_name: str
    factory_city: str | None
    factory_lat: float | None
    factory_lon: float | None
    recall_code: str | None
    recall_notice_zh: str | None
    recall_notice_en: str | None
    seller_name: str | None
    seller_city: str | None
    seller_rating: float | None
    seller_rating_count: int | None
    seller_certification_tier: str | None
    installed_at: datetime | None
    vin: str | None
    shop_name: str | None
    shop_city: str | None
    shop_rating: float | None
    shop_rating_count: int | None
    shop_certification_tier: str | None
    part_type_id: int
    batch_id: int


NO_RECALL = (None,) * 3
NO_STANDING = (None,) * len(STANDING_COLUMNS)
NO_INSTALLATION = (None,) * (2 + len(STANDING_COLUMNS))


def _packed(
    *columns: ColumnElement,
    where: ColumnElement[bool],
    source: FromClause | None = None,
    newest: ColumnElement | None = None,
) -> ScalarSelect:
    """One related row's columns as a JSON array (NULL when there is no such row; the `newest` when several)."""
    query = select(json_array(*columns)).where(where)
    if source is not None:
        query = query.select_from(source)
    if newest is not None:
        query = query.order_by(newest.desc()).limit(1)
    return query.scalar_subquery()


def _scan_read(page: bool = False) -> Select:
    """The part by its serial on the (serial, gtin) unique index, row-locked on PostgreSQL (SQLite's BEGIN IMMEDIATE
    already serializes writers) so that concurrent scans of one part take turns with its kept state. For the
    `page` (PostgreSQL) also what the page shows besides the verdict: the part type's kept sale-price range
    and the keys of the events naming the part (by which the write then reads them)."""
    parts, organizations = Part.__table__, Organization.__table__
    types, batches, recalls = PartType.__table__, Batch.__table__, Recall.__table__
    installations, vehicles = Installation.__table__, Vehicle.__table__
    factory, seller, shop = organizations.alias("factory"), organizations.alias("seller"), organizations.alias("shop")
    part_type = _packed(
        *(types.c[name] for name in ("part_number", "name_zh", "name_en", "category")),
        # As text: a JSON number would come back as a float, and money stays exact.
        cast(types.c.guide_price, String),
        types.c.warranty_months,
        where=types.c.id == parts.c.part_type_id,
    )
    batch = _packed(
        *(batches.c[name] for name in ("lot", "production_date", "production_line", "qc_result", "commissioned_at")),
        *(factory.c[name] for name in ("name", "city", "lat", "lon")),
        source=batches.join(factory, factory.c.id == batches.c.factory_id),
        where=batches.c.id == parts.c.batch_id,
    )
    recall = _packed(recalls.c.code, recalls.c.notice_zh, recalls.c.notice_en, where=recalls.c.id == parts.c.recall_id)
    sold_by = _packed(*(seller.c[name] for name in STANDING_COLUMNS), where=seller.c.id == parts.c.sold_by_id)
    # The state machine allows one open installation; the newest wins should a hand edit ever leave two.
    installation = _packed(
        installations.c.installed_at,
        vehicles.c.vin,
        *(shop.c[name] for name in STANDING_COLUMNS),
        source=installations.join(vehicles, vehicles.c.id == installations.c.vehicle_id).join(
            shop, shop.c.id == installations.c.organization_id
        ),
        where=(installations.c.part_id == parts.c.id) & installations.c.removed_at.is_(None),
        newest=installations.c.installed_at,
    )
    ranges = SalePriceRange.__table__
    price_range = _packed(
        cast(ranges.c.p10, String),
        cast(ranges.c.p90, String),
        ranges.c.sales,
        where=ranges.c.part_type_id == parts.c.part_type_id,
    )
    shown = [price_range.label("price_range"), *select_event_keys(parts.c.id)] if page else []
    return (
        select(
            *(parts.c[name] for name in PART_COLUMNS),
            parts.c.chain_places,
            parts.c.alert_signals,
            part_type.label("part_type"),
            batch.label("batch"),
            recall.label("recall"),
            sold_by.label("seller"),
            installation.label("installation"),
            parts.c.part_type_id,
            parts.c.batch_id,
            *shown,
        )
        # By serial on the (serial, gtin) key, the code's own GTIN first: when only another GTIN has the serial
        # that part comes back (not the code's part, but the scan then knows it is a GTIN mismatch without a
        # statement of its own); serials are unique in practice, so this reads one row.
        .where(parts.c.serial == bindparam("serial"))
        .order_by((parts.c.gtin == bindparam("gtin")).desc())
        .limit(1)
        .with_for_update(of=parts)
    )


def _scan_insert(prefix: str = "") -> Any:
    """The scan INSERT with every column but the id bound by name (`prefix` + column name)."""
    scans = Scan.__table__
    columns = (column for column in scans.c if column.name != "id")
    return scans.insert().values(
        {column.name: bindparam(prefix + column.name, type_=column.type) for column in columns}
    )


def _state_update() -> Any:
    parts = Part.__table__
    return (
        parts.update()
        .where(parts.c.id == bindparam("part_id"))
        .values({name: bindparam(name, type_=parts.c[name].type) for name in SCAN_STATE})
    )


def _write_postgresql(with_state: bool = True, journey: bool = False) -> Select:
    """The kept-state UPDATE (`with_state`), the scan INSERT and this transaction's synchronous_commit in one
    statement (one round trip); the DML CTEs run although the SELECT does not read them. With `journey` the
    statement also returns the part's custody journey for the scan page, by the keys its read returned."""
    stored = _scan_insert("scan_").cte("stored")
    setting = func.set_config("synchronous_commit", bindparam("synchronous_commit"), True)
    shown = (packed_journey_by_keys().label("journey"),) if journey else ()
    return select(setting, *shown).add_cte(*((_state_update().cte("kept"),) if with_state else ()), stored)


# Built once per worker process; each compiles once per dialect.
SCAN_READ = DriverStatement(_scan_read())
SCAN_READ_PAGE = DriverStatement(_scan_read(page=True))
FORGED_READ = DriverStatement(
    select(Part.__table__.c.gtin, Part.__table__.c.holder_id)
    .where(Part.__table__.c.serial == bindparam("serial"))
    .order_by((Part.__table__.c.gtin == bindparam("gtin")).desc())
    .limit(1)
)
STATE_UPDATE = DriverStatement(_state_update())
SCAN_INSERT = DriverStatement(_scan_insert())
WRITE_POSTGRESQL = DriverStatement(_write_postgresql())
INSERT_POSTGRESQL = DriverStatement(_write_postgresql(with_state=False))
WRITE_POSTGRESQL_PAGE = DriverStatement(_write_postgresql(journey=True))


def _utc(text: str) -> datetime:
    """A timestamp from a JSON array: ISO text in either dialect's spelling, as an aware UTC datetime."""
    return as_utc(datetime.fromisoformat(text))


def _scanned_part(row: Any) -> ScannedPart:
    number, name_zh, name_en, category, price, warranty_months = row.part_type
    lot, produced, line, qc_result, commissioned, *factory = row.batch
    installation = row.installation or NO_INSTALLATION
    installed_at = _utc(installation[0]) if installation[0] else None
    return ScannedPart(
        *row[: len(PART_COLUMNS) + 2],
        number,
        name_zh,
        name_en,
        category,
        Decimal(price),
        warranty_months,
        lot,
        date.fromisoformat(produced),
        line,
        qc_result,
        _utc(commissioned),
        *factory,
        *(row.recall or NO_RECALL),
        *(row.seller or NO_STANDING),
        installed_at,
        *installation[1:],
        row.part_type_id,
        row.batch_id,
    )


class PageKeys(NamedTuple):
    """What the scan page's read of a part adds (PostgreSQL): the kept sale-price range and the keys of the
    events naming the part."""

    p10: Decimal | None
    p90: Decimal | None
    sales: int | None
    event_ids: list | None
    event_times: list | None


class PageRead(NamedTuple):
    """What a scan read and wrote for the page besides the verdict: the read's keys (with the kept price range)
    and the journey the write read by them."""

    kept: PageKeys
    journey: list


class PartRead(NamedTuple):
    """What a scan's read found: the part with the code's GTIN and serial (None if none, or if the code was
    read as forged), for the page what it shows besides the verdict, `missing` ("unknown_serial" or
    "gtin_mismatch") when no part has the code's GTIN and serial, and the holder of the part that has them."""

    part: ScannedPart | None
    page: PageKeys | None
    missing: str | None
    holder_id: int | None


def _missing(row: Any, gtin: str) -> PartRead | None:
    """The read of a code no part has, or None when the row is the code's own part."""
    if row is None:
        return PartRead(None, None, "unknown_serial", None)
    if row.gtin != gtin:
        return PartRead(None, None, "gtin_mismatch", None)
    return None


def read_scanned(session: Session, gtin: str, serial: str, page: bool = False) -> PartRead:
    """Return what a scan needs of the part a code names, locking its row for the rest of the transaction; for
    the `page`, with what the scan page adds in the same statement (PostgreSQL only)."""
    row = (SCAN_READ_PAGE if page else SCAN_READ).first(session, {"gtin": gtin, "serial": serial})
    missing = _missing(row, gtin)
    if missing is not None:
        return missing
    part = _scanned_part(row)
    if not page:
        return PartRead(part, None, None, part.holder_id)
    p10, p90, sales = row.price_range or (None,) * 3
    low, high = (Decimal(p10), Decimal(p90)) if p10 is not None else (None, None)
    return PartRead(part, PageKeys(low, high, sales, row.event_ids, row.event_times), None, part.holder_id)


def read_forged(session: Session, gtin: str, serial: str) -> PartRead:
    """Return the read of a code already found forged (its tag or origin): whether a part has its GTIN and
    serial and who holds it, for the alert. No lock and nothing the verdict would show: the scan names no part."""
    row = FORGED_READ.first(session, {"gtin": gtin, "serial": serial})
    return _missing(row, gtin) or PartRead(None, None, None, row.holder_id)


def read_part(session: Session, gtin: str, serial: str) -> ScannedPart | None:
    """Return what a scan needs of a part, locking its row for the rest of the transaction."""
    return read_scanned(session, gtin, serial).part


def store_scan(
    session: Session,
    part: ScannedPart | None,
    state: dict | None,
    scan: dict,
    *,
    durable: bool,
    page: PageKeys | None = None,
) -> PageRead | None:
    """Store a scan and, for a known `part`, its new kept state (`state`); on PostgreSQL in one statement, after
    which the transaction commits without waiting for the WAL flush unless `durable`. With the `page` keys of a
    known part the same statement reads the part's journey: the page's read is returned."""
    if is_postgresql(session):
        parameters = {f"scan_{name}": value for name, value in scan.items()}
        commit = {"synchronous_commit": "on" if durable else "off"}
        if state is None:
            INSERT_POSTGRESQL.execute(session, {**parameters, **commit})
        elif page is None:
            WRITE_POSTGRESQL.execute(session, {"part_id": part.id, **state, **parameters, **commit})
        else:
            keys = journey_keys(page.event_ids, page.event_times, part.batch_id, part.commissioned_at)
            parameters = {"part_id": part.id, **state, **parameters, **commit, **keys}
            written = WRITE_POSTGRESQL_PAGE.first(session, parameters)
            return PageRead(page, unpacked_journey(written.journey))
        return None
    if state is not None:
        STATE_UPDATE.execute(session, {"part_id": part.id, **state})
    SCAN_INSERT.execute(session, scan)
    return None
