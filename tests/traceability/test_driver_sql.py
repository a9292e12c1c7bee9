"""Statements run on the driver keep SQLAlchemy's typing, inside the session's transaction, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import bindparam, select

from app.crm.models import Organization
from tests.factories import make_organization
from traceability.driver_sql import DriverStatement, json_array
from traceability.models import Scan

SCANS = Scan.__table__
INSERT_SCAN = DriverStatement(
    SCANS.insert().values(
        {name: bindparam(name, type_=SCANS.c[name].type) for name in ("verdict", "reasons", "city", "scanned_at")}
    )
)
READ_SCAN = DriverStatement(
    select(SCANS.c.id, SCANS.c.verdict, SCANS.c.reasons, SCANS.c.scanned_at, SCANS.c.lat).where(
        SCANS.c.city == bindparam("city")
    )
)
SHANGHAI = timezone(timedelta(hours=8))


def test_driver_statement_stores_json_and_timestamps_as_the_orm_reads_them(session):
    scanned_at = datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=SHANGHAI)

    INSERT_SCAN.execute(
        session, {"verdict": "suspect", "reasons": ["impossible_travel"], "city": "Xinxiang", "scanned_at": scanned_at}
    )

    stored = session.scalars(select(Scan).where(Scan.city == "Xinxiang")).one()
    assert stored.reasons == ["impossible_travel"]
    assert stored.scanned_at == scanned_at
    assert stored.scanned_at.tzinfo == UTC


def test_driver_statement_rows_equal_sqlalchemy_rows(session):
    scanned_at = datetime(2026, 12, 1, 1, 2, 3, 456789, tzinfo=UTC)
    session.add(Scan(verdict="genuine", reasons=["a", "b"], city="Anyang", scanned_at=scanned_at))
    session.flush()

    row = READ_SCAN.first(session, {"city": "Anyang"})

    expected = session.execute(READ_SCAN.statement, {"city": "Anyang"}).one()
    assert tuple(row) == tuple(expected)
    assert row.reasons == ["a", "b"] and row.lat is None
    assert row.scanned_at == scanned_at and row.scanned_at.tzinfo == UTC


def test_driver_statement_returns_none_without_a_row(session):
    assert READ_SCAN.first(session, {"city": "Nowhere"}) is None


def test_driver_statement_runs_inside_the_session_transaction(session):
    savepoint = session.begin_nested()
    INSERT_SCAN.execute(session, {"verdict": "void", "reasons": [], "city": "Luoyang", "scanned_at": datetime.now(UTC)})

    savepoint.rollback()

    assert READ_SCAN.first(session, {"city": "Luoyang"}) is None


def test_json_array_packs_a_related_row(session):
    make_organization(session, code="PACKED-1", name="Packed", city="Kaifeng", lat=34.8, rating=Decimal("4.25"))
    organizations = Organization.__table__
    statement = select(
        json_array(organizations.c.name, organizations.c.city, organizations.c.lat, organizations.c.rating)
    ).where(organizations.c.code == "PACKED-1")

    packed = session.scalar(statement)

    assert packed == ["Packed", "Kaifeng", 34.8, 4.25]
