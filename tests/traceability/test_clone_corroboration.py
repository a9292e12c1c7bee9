"""Clone signals from anonymous browser positions need corroboration before the public verdict changes (row 26)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.security import Role
from tests.factories import auth_header, make_user
from tests.traceability.factories import make_batch, part_url
from traceability.commissioning import list_batch_parts
from traceability.models import Alert
from traceability.verdicts import UNCORROBORATED_CAUSE

BEIJING = {"lat": 39.9042, "lon": 116.4074}
GUANGZHOU = {"lat": 23.1291, "lon": 113.2644}


@pytest.fixture
def part(session):
    return list_batch_parts(session, make_batch(session, quantity=1))[0]


def scan(client, part, headers=None, **position):
    return client.post("/api/v1/scans", json={"url": part_url(part), **position}, headers=headers or {}).json


def test_two_spoofed_anonymous_scans_from_one_client_leave_the_part_genuine_and_tell_the_oem(session, client, part):
    verdicts = [scan(client, part, **BEIJING)["verdict"], scan(client, part, **GUANGZHOU)["verdict"]]

    assert verdicts == ["genuine", "genuine"]
    alert = session.scalar(select(Alert).where(Alert.part_id == part.id))
    assert alert.cause == UNCORROBORATED_CAUSE
    assert "impossible_travel" in alert.details["signals"]
    assert scan(client, part)["verdict"] == "genuine"  # the held-back signal does not stick to the part


def test_a_staff_scan_position_corroborates(session, client, part):
    staff = make_user(session, Role.SHOP_STAFF, part.holder)
    scan(client, part, **BEIJING)

    body = scan(client, part, auth_header(session, staff), **GUANGZHOU)

    assert body["verdict"] == "suspect"
    assert "impossible_travel" in body["reasons"]


def test_beyond_the_scan_threshold_anonymous_signals_count(session, client, app, part):
    app.config.update(CLONE_CORROBORATION_SCANS=2)
    scan(client, part, **BEIJING)
    scan(client, part, **BEIJING)

    assert scan(client, part, **GUANGZHOU)["verdict"] == "suspect"
