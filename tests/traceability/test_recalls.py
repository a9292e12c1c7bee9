"""Recalls: by batch, by part type and dates, by serials; recalled parts show `recalled` and are blocked."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from app.crm.models import ActivityEntry
from app.errors import Conflict
from app.security import Role
from tests.factories import auth_header, make_organization, make_user, make_vehicle
from tests.traceability.factories import activation_code, make_batch, make_part_type, part_url, record, stock_parts
from traceability.commissioning import list_batch_parts
from traceability.models import PartState

NOTICE = {"notice_zh": "刹车片批次存在裂纹风险，请尽快更换。", "notice_en": "Brake pads may crack; replace them."}


def recall(client, session, **scope):
    headers = auth_header(session, make_user(session, Role.OEM_ADMIN))
    return client.post("/api/v1/recalls", json={**NOTICE, **scope}, headers=headers)


def test_recall_by_batch_flags_its_parts_and_scans_show_recalled(session, client):
    batch = make_batch(session, quantity=4)
    other = make_batch(session, quantity=1)

    response = recall(client, session, batch=batch.id)

    assert response.status_code == 201
    assert response.json["part_count"] == 4
    part = list_batch_parts(session, batch)[0]
    body = client.post("/api/v1/scans", json={"url": part_url(part)}).json
    assert body["verdict"] == "recalled"
    assert body["recall"]["notice_en"] == NOTICE["notice_en"]
    untouched = list_batch_parts(session, other)[0]
    assert client.post("/api/v1/scans", json={"url": part_url(untouched)}).json["verdict"] == "genuine"


def test_recall_by_part_type_and_production_dates(session, client):
    part_type = make_part_type(session)
    early = make_batch(session, quantity=2, part_type=part_type, production_date=date(2026, 1, 5))
    late = make_batch(session, quantity=2, part_type=part_type, production_date=date(2026, 3, 5))

    response = recall(
        client, session, part_number=part_type.part_number, produced_from="2026-01-01", produced_to="2026-01-31"
    )

    assert response.json["part_count"] == 2
    assert all(part.recall_id is not None for part in list_batch_parts(session, early))
    assert all(part.recall_id is None for part in list_batch_parts(session, late))


def test_recall_by_serials(session, client):
    parts = list_batch_parts(session, make_batch(session, quantity=3))

    response = recall(client, session, serials=[{"gtin": parts[1].gtin, "serial": parts[1].serial}])

    assert response.json["part_count"] == 1


@pytest.mark.parametrize(
    ("scope", "field"), [({}, "scope"), ({"batch": 1, "part_number": "X"}, "scope"), ({"notice_en": ""}, "notice_en")]
)
def test_recall_needs_one_scope_and_both_notices(session, client, scope, field):
    make_batch(session, quantity=1)

    response = recall(client, session, **({"batch": 999999} if not scope else {}), **scope)

    assert response.status_code in (400, 404)
    if response.status_code == 400:
        assert response.json["error"]["field"] == field


def test_recalled_part_cannot_be_sold_or_installed(session, client):
    parts = list_batch_parts(session, make_batch(session, quantity=1))
    dealer = make_organization(session, kind="dealer")
    staff = stock_parts(session, parts, dealer)
    recall(client, session, batch=parts[0].batch_id)
    session.refresh(parts[0])

    with pytest.raises(Conflict):
        record(session, staff, "sell", parts)
    with pytest.raises(Conflict):
        record(
            session, staff, "install", parts, vin=make_vehicle(session).vin, activation_code=activation_code(parts[0])
        )
    assert parts[0].state == PartState.IN_STOCK


def test_recall_lists_affected_vehicles_and_owners(session, client):
    parts = list_batch_parts(session, make_batch(session, quantity=1))
    staff = stock_parts(session, parts, make_organization(session, kind="dealer"))
    vehicle = make_vehicle(session)
    record(session, staff, "install", parts, vin=vehicle.vin, activation_code=activation_code(parts[0]))
    code = recall(client, session, batch=parts[0].batch_id).json["code"]
    headers = auth_header(session, make_user(session, Role.OEM_ADMIN))

    body = client.get(f"/api/v1/recalls/{code}/vehicles", headers=headers).json

    assert body["total"] == 1
    assert body["items"][0]["vin"] == vehicle.vin
    assert body["items"][0]["phone"] == vehicle.owner.phone


def test_a_recall_is_in_the_activity_log(session, client):
    batch = make_batch(session, quantity=2)

    code = recall(client, session, batch=batch.id).json["code"]

    entry = session.scalar(select(ActivityEntry).where(ActivityEntry.action == "traceability.recall_created"))
    assert (entry.subject_type, entry.subject_id, entry.actor_role) == ("recall", code, Role.OEM_ADMIN)
    assert entry.details == {"scope": "batch", "parts": 2}
