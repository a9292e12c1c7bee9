"""Commissioning batches: validation, bulk writes, tags, hashed activation codes, the commissioning event."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from app.errors import Conflict, InvalidInput
from tests.factories import auth_header, make_organization
from tests.traceability.factories import keyring_for_tests, make_batch, make_factory_staff, make_part_type
from traceability import commissioning
from traceability.codes import activation_code_for, is_activation_code, tag_message
from traceability.commissioning import commission_batch, list_batch_parts
from traceability.models import CustodyEvent, Part, PartState


def test_commission_batch_creates_signed_parts_held_by_factory(session):
    batch = make_batch(session, quantity=25)

    parts = list_batch_parts(session, batch)

    ring = keyring_for_tests()
    assert len(parts) == 25
    assert len({part.serial for part in parts}) == 25
    assert all(ring.verify(tag_message(part.gtin, part.serial), part.tag) for part in parts)
    assert all(part.state == PartState.PRODUCED and part.holder_id == batch.factory_id for part in parts)


def test_commission_batch_stores_only_activation_hash(session):
    batch = make_batch(session, quantity=1)
    part = list_batch_parts(session, batch)[0]
    code = activation_code_for(keyring_for_tests(), part.gtin, part.serial)

    assert code not in part.activation_hash
    assert is_activation_code(keyring_for_tests(), part.gtin, part.serial, code, part.activation_hash)


def test_commission_batch_records_one_commissioning_event(session):
    batch = make_batch(session, quantity=5)

    event = session.scalar(select(CustodyEvent).where(CustodyEvent.batch_id == batch.id))

    assert event.event_type == "commission"
    assert event.part_count == 5
    assert event.business_step == "commissioning"


def test_commission_batch_keeps_its_events_time_on_the_batch(session):
    batch = make_batch(session, quantity=2)

    event = session.scalar(select(CustodyEvent).where(CustodyEvent.batch_id == batch.id))

    assert batch.commissioned_at == event.occurred_at


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"quantity": 0}, "quantity"),
        ({"quantity": 100_001}, "quantity"),
        ({"qc_result": "maybe"}, "qc_result"),
        ({"production_date": date(2999, 1, 1)}, "production_date"),
        ({"production_line": " "}, "production_line"),
    ],
)
def test_commission_batch_rejects_bad_input_without_writing(session, overrides, field):
    part_type = make_part_type(session)
    factory = make_organization(session, kind="factory")
    fields = {
        "quantity": 3,
        "production_line": "L1",
        "production_date": date(2026, 1, 1),
        "qc_result": "passed",
        "qc_inspector": "X",
    }
    fields.update(overrides)

    with pytest.raises(InvalidInput) as error:
        commission_batch(
            session, keyring_for_tests(), part_type=part_type, factory=factory, max_quantity=100_000, **fields
        )

    assert error.value.field == field
    assert session.scalar(select(func.count()).select_from(Part)) == 0


def test_commission_batch_refuses_failed_qc(session):
    with pytest.raises(Conflict):
        make_batch(session, qc_result="failed")


def test_commission_batch_requires_a_factory(session):
    with pytest.raises(InvalidInput) as error:
        make_batch(session, factory=make_organization(session, kind="dealer"))

    assert error.value.field == "factory"


def _batch_body(part_type, **changes):
    body = {
        "part_number": part_type.part_number,
        "quantity": 4,
        "production_line": "L3",
        "production_date": "2026-02-01",
        "qc_result": "passed",
        "qc_inspector": "赵工",
    }
    body.update(changes)
    return body


def test_create_batch_endpoint_commissions_for_own_factory(session, client):
    staff = make_factory_staff(session)
    part_type = make_part_type(session)

    response = client.post("/api/v1/batches", json=_batch_body(part_type), headers=auth_header(session, staff))

    assert response.status_code == 201
    assert response.json["quantity"] == 4
    assert "activation" not in str(response.json).lower()


def test_create_batch_endpoint_forbids_other_factory(session, client):
    staff = make_factory_staff(session)
    other = make_organization(session, kind="factory")
    part_type = make_part_type(session)

    response = client.post(
        "/api/v1/batches", json=_batch_body(part_type, factory=other.code), headers=auth_header(session, staff)
    )

    assert response.status_code == 403
    assert session.scalar(select(func.count()).select_from(Part)) == 0


def test_create_batch_endpoint_limits_quantity(session, client):
    staff = make_factory_staff(session)
    part_type = make_part_type(session)

    response = client.post(
        "/api/v1/batches", json=_batch_body(part_type, quantity=100_001), headers=auth_header(session, staff)
    )

    assert response.status_code == 400
    assert response.json["error"]["field"] == "quantity"


def test_serial_clash_at_commissioning_is_drawn_again(session, monkeypatch):
    part_type = make_part_type(session)
    first = make_batch(session, 1, part_type=part_type)
    taken = session.scalars(select(Part.serial).where(Part.batch_id == first.id)).one()
    # Force the clash a random draw makes once in a very long while: the first draw repeats a serial in use.
    draws = iter([[taken], ["ZZZZZZZZZZZZ"]])
    monkeypatch.setattr(commissioning, "new_serials", lambda quantity: next(draws))

    second = make_batch(session, 1, part_type=part_type)

    assert session.scalars(select(Part.serial).where(Part.batch_id == second.id)).all() == ["ZZZZZZZZZZZZ"]
