"""`SCAN_ASYNC_COMMIT` is scoped to the transaction that records a scan: the custody writes and commissioning
that follow on the same database connection commit durably (PostgreSQL's synchronous_commit stays on)."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from app.geo import LatLon
from tests.conftest import PUBLIC_BASE_URL
from tests.factories import make_organization
from tests.traceability.factories import keyring_for_tests, make_batch, part_url, record, stock_parts
from traceability.codes import parse_digital_link
from traceability.commissioning import list_batch_parts
from traceability.verification import ClonePolicy, verify_scan

POLICY = ClonePolicy(max_speed_kmh=150, max_cities=3, far_km=800, history=50, corroboration_scans=0)


def _synchronous_commit(session: Session) -> str:
    return session.scalar(text("SHOW synchronous_commit"))


def _durable_by_default(session: Session) -> None:
    """Make this connection commit durably unless told otherwise, as production does (the test databases are
    created with synchronous_commit off to keep the suite fast)."""
    session.execute(text("SET synchronous_commit = on"))


def _clean_scan(session: Session, part) -> str:
    link = parse_digital_link(part_url(part))
    outcome = verify_scan(
        session,
        keyring_for_tests(),
        link,
        origin=PUBLIC_BASE_URL,
        position=LatLon(36.67, 117.0),
        intent=None,
        actor=None,
        policy=POLICY,
        async_commit=True,
    )
    return outcome.verdict.value


def test_custody_and_commissioning_after_an_async_scan_on_one_connection_commit_durably(committed_engine):
    if committed_engine.dialect.name != "postgresql":
        pytest.skip("synchronous_commit is a PostgreSQL setting")
    with committed_engine.connect() as connection:
        # One connection for every transaction below, as a pooled connection serves request after request.
        session = Session(bind=connection, expire_on_commit=False)
        _durable_by_default(session)
        parts = list_batch_parts(session, make_batch(session, quantity=2))
        dealer = make_organization(session, kind="dealer", city="Zhengzhou", lat=34.75, lon=113.62)
        session.commit()

        verdict = _clean_scan(session, parts[0])
        during_scan = _synchronous_commit(session)
        session.commit()
        stock_parts(session, parts, dealer)
        during_custody = _synchronous_commit(session)
        session.commit()
        _clean_scan(session, parts[0])
        session.commit()
        make_batch(session, quantity=2)
        during_commissioning = _synchronous_commit(session)
        session.commit()
        session.close()

    assert verdict == "genuine"
    assert (during_scan, during_custody, during_commissioning) == ("off", "on", "on")


def test_a_custody_write_is_never_asynchronous(session):
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("synchronous_commit is a PostgreSQL setting")
    _durable_by_default(session)
    parts = list_batch_parts(session, make_batch(session, quantity=1))
    dealer = make_organization(session, kind="dealer", city="Zhengzhou", lat=34.75, lon=113.62)

    staff = stock_parts(session, parts, dealer)
    record(session, staff, "sell", parts, price="100.00")

    assert _synchronous_commit(session) == "on"
