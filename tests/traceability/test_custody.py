"""Custody events: the state machine, holder checks, atomic bulk events, installation with activation codes."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from app.crm.models import ActivityEntry
from app.errors import Conflict, CountedFailure, Forbidden, InvalidInput, NotFound, RateLimited
from app.security import Role
from tests.factories import auth_header, make_organization, make_user, make_vehicle
from tests.traceability.factories import (
    LIMITS,
    activation_code,
    keyring_for_tests,
    make_batch,
    part_url,
    record,
    stock_parts,
)
from traceability.chain import verify_chain
from traceability.commissioning import list_batch_parts
from traceability.custody import record_event
from traceability.custody_input import EventRequest
from traceability.models import Alert, CustodyEvent, Installation, PartState, Sale


@pytest.fixture
def parts(session):
    return list_batch_parts(session, make_batch(session, quantity=3))


@pytest.fixture
def dealer(session):
    return make_organization(session, kind="dealer", code="DLR-T", city="Zhengzhou", lat=34.75, lon=113.62)


def event_count(session) -> int:
    return session.scalar(select(func.count()).select_from(CustodyEvent))


def test_ship_receive_sell_install_moves_part_and_keeps_chain_intact(session, parts, dealer):
    staff = stock_parts(session, parts[:1], dealer)
    record(session, staff, "sell", parts[:1], price="120.5")
    vehicle = make_vehicle(session)

    record(session, staff, "install", parts[:1], vin=vehicle.vin, activation_code=activation_code(parts[0]))

    part = parts[0]
    assert part.state == PartState.INSTALLED
    assert part.vehicle_id == vehicle.id
    assert session.scalar(select(Installation.organization_id).where(Installation.part_id == part.id)) == dealer.id
    assert session.scalar(select(Sale.price).where(Sale.part_id == part.id)) == 120.5
    assert verify_chain(session, keyring_for_tests()) == (5, None)


def test_receive_only_by_destination(session, parts, dealer):
    factory_staff = make_user(session, Role.FACTORY_STAFF, parts[0].holder)
    record(session, factory_staff, "ship", parts, to=dealer.code)
    stranger = make_user(session, Role.DEALER_STAFF, make_organization(session, kind="dealer"))

    with pytest.raises(Forbidden):
        record(session, stranger, "receive", parts)


@pytest.mark.parametrize(
    ("path", "event_type"),
    [
        ([], "receive"),
        ([], "sell"),
        ([], "remove"),
        (["ship"], "ship"),
        (["ship"], "sell"),
        (["ship", "receive"], "receive"),
        (["ship", "receive", "sell"], "sell"),
        (["ship", "receive", "destroy"], "ship"),
        (["ship", "receive", "destroy"], "inspect"),
    ],
)
def test_state_machine_refuses_impossible_moves_with_reason(session, parts, dealer, path, event_type):
    staff = make_user(session, Role.FACTORY_STAFF, parts[0].holder)
    dealer_staff = make_user(session, Role.DEALER_STAFF, dealer)
    for step in path:
        actor = dealer_staff if step in ("receive", "sell", "destroy") else staff
        record(session, actor, step, parts[:1], **({"to": dealer.code} if step == "ship" else {}))
    actor = staff if not path else dealer_staff
    before = event_count(session)

    with pytest.raises((Conflict, Forbidden)) as error:
        record(session, actor, event_type, parts[:1], **({"to": "DLR-T"} if event_type == "ship" else {}))

    assert event_count(session) == before
    if isinstance(error.value, Conflict):
        assert "not possible" in error.value.message


def test_only_holder_may_ship(session, parts, dealer):
    stranger = make_user(session, Role.WAREHOUSE_STAFF, make_organization(session, kind="warehouse"))

    with pytest.raises(Forbidden) as error:
        record(session, stranger, "ship", parts, to=dealer.code)

    assert error.value.details["reason_code"] == "not_holder"


def test_bulk_event_applies_to_none_when_one_part_is_not_held(session, parts, dealer):
    other_batch = list_batch_parts(session, make_batch(session, quantity=1))
    staff = make_user(session, Role.FACTORY_STAFF, parts[0].holder)
    before = event_count(session)

    with pytest.raises(Forbidden) as error:
        record(session, staff, "ship", parts + other_batch, to=dealer.code)

    assert error.value.field == "parts[3]"
    assert all(part.state == PartState.PRODUCED for part in parts)
    assert event_count(session) == before


def test_duplicate_serials_in_one_event_are_refused(session, parts, dealer):
    staff = make_user(session, Role.FACTORY_STAFF, parts[0].holder)

    with pytest.raises(InvalidInput) as error:
        record(session, staff, "ship", [parts[0], parts[1], parts[0]], to=dealer.code)

    assert error.value.field == "parts[2]"


def test_unknown_serial_is_404_naming_the_part(session, parts, dealer):
    staff = make_user(session, Role.FACTORY_STAFF, parts[0].holder)
    request = EventRequest(type="ship", parts=[{"gtin": parts[0].gtin, "serial": "NOSUCHSERIAL"}], to=dealer.code)

    with pytest.raises(NotFound) as error:
        record_event(session, keyring_for_tests(), staff, request, LIMITS, client="x")

    assert error.value.field == "parts[0]"


def test_forged_url_in_event_is_refused(session, parts, dealer):
    staff = make_user(session, Role.FACTORY_STAFF, parts[0].holder)
    forged = part_url(parts[0])[:-3] + "ZZZ"
    request = EventRequest(type="ship", parts=[forged], to=dealer.code)

    with pytest.raises(InvalidInput) as error:
        record_event(session, keyring_for_tests(), staff, request, LIMITS, client="x")

    assert error.value.field == "parts[0]"


def test_scanned_urls_name_parts_in_events(session, parts, dealer):
    staff = make_user(session, Role.FACTORY_STAFF, parts[0].holder)
    request = EventRequest(type="ship", parts=[part_url(part) for part in parts], to=dealer.code)

    record_event(session, keyring_for_tests(), staff, request, LIMITS, client="x")

    assert all(part.state == PartState.IN_TRANSIT for part in parts)


def test_event_with_10000_parts_applies_atomically(session, dealer):
    many = list_batch_parts(session, make_batch(session, quantity=10_000))
    staff = make_user(session, Role.FACTORY_STAFF, many[0].holder)

    event = record(session, staff, "ship", many, to=dealer.code)

    assert event.part_count == 10_000
    assert all(part.state == PartState.IN_TRANSIT for part in many)
    assert verify_chain(session, keyring_for_tests())[1] is None


@pytest.fixture
def installer(session, parts, dealer):
    return stock_parts(session, parts, dealer)


def test_install_with_wrong_code_is_counted_and_leaves_part(session, parts, installer):
    vehicle = make_vehicle(session)

    with pytest.raises(CountedFailure):
        record(session, installer, "install", parts[:1], vin=vehicle.vin, activation_code="0000000000")

    assert parts[0].state == PartState.IN_STOCK


def test_install_brute_force_is_rate_limited_even_with_right_code(session, parts, installer):
    vehicle = make_vehicle(session)
    for _ in range(5):
        with pytest.raises(CountedFailure):
            record(session, installer, "install", parts[:1], vin=vehicle.vin, activation_code="0000000000")

    with pytest.raises(RateLimited):
        record(session, installer, "install", parts[:1], vin=vehicle.vin, activation_code=activation_code(parts[0]))

    assert parts[0].state == PartState.IN_STOCK


def test_install_on_second_vehicle_is_refused_and_alerted(session, parts, installer):
    first, second = make_vehicle(session), make_vehicle(session)
    record(session, installer, "install", parts[:1], vin=first.vin, activation_code=activation_code(parts[0]))

    with pytest.raises(Conflict):
        record(session, installer, "install", parts[:1], vin=second.vin, activation_code=activation_code(parts[0]))

    assert parts[0].vehicle_id == first.id
    assert session.scalar(select(Alert.cause).where(Alert.part_id == parts[0].id)) == "activation_after_install"


def test_replayed_activation_code_after_removal_and_restock_is_refused(session, parts, installer, dealer):
    vehicle = make_vehicle(session)
    code = activation_code(parts[0])
    record(session, installer, "install", parts[:1], vin=vehicle.vin, activation_code=code)
    record(session, installer, "remove", parts[:1], vin=vehicle.vin, reason="worn")
    warehouse = make_organization(session, kind="warehouse")
    record(session, installer, "ship", parts[:1], to=warehouse.code)
    warehouse_staff = make_user(session, Role.WAREHOUSE_STAFF, warehouse)
    record(session, warehouse_staff, "receive", parts[:1])
    record(session, warehouse_staff, "ship", parts[:1], to=dealer.code)
    record(session, installer, "receive", parts[:1])

    with pytest.raises(Conflict) as error:
        record(session, installer, "install", parts[:1], vin=make_vehicle(session).vin, activation_code=code)

    assert error.value.details["reason_code"] == "used"


def test_install_needs_installer_role(session, parts):
    warehouse = make_organization(session, kind="warehouse")
    staff = stock_parts(session, parts[:1], warehouse)

    with pytest.raises(Forbidden):
        record(
            session,
            staff,
            "install",
            parts[:1],
            vin=make_vehicle(session).vin,
            activation_code=activation_code(parts[0]),
        )


def test_sell_after_install_is_refused_and_alerted(session, parts, installer):
    vehicle = make_vehicle(session)
    record(session, installer, "install", parts[:1], vin=vehicle.vin, activation_code=activation_code(parts[0]))
    record(session, installer, "remove", parts[:1], vin=vehicle.vin, reason="worn")

    with pytest.raises(Conflict):
        record(session, installer, "sell", parts[:1])

    assert session.scalar(select(Alert.cause).where(Alert.part_id == parts[0].id)) == "resale_after_removal"


@pytest.mark.parametrize(
    ("lat", "lon", "field"), [("abc", 113.0, "lat"), (91, 113.0, "lat"), (34.0, 181, "lon"), (34.0, None, "lon")]
)
def test_malformed_coordinates_are_refused(session, parts, dealer, lat, lon, field):
    staff = make_user(session, Role.FACTORY_STAFF, parts[0].holder)

    with pytest.raises(InvalidInput) as error:
        record(session, staff, "ship", parts, to=dealer.code, lat=lat, lon=lon)

    assert error.value.field == field
    assert parts[0].state == PartState.PRODUCED


def test_events_endpoint_refuses_10001_parts(session, client, parts, dealer):
    staff = make_user(session, Role.FACTORY_STAFF, parts[0].holder)
    body = {
        "type": "ship",
        "to": dealer.code,
        "parts": [{"gtin": parts[0].gtin, "serial": f"S{i}"} for i in range(10_001)],
    }

    response = client.post("/api/v1/events", json=body, headers=auth_header(session, staff))

    assert response.status_code == 400
    assert response.json["error"]["field"] == "parts"


def test_events_endpoint_records_event(session, client, parts, dealer):
    staff = make_user(session, Role.FACTORY_STAFF, parts[0].holder)
    body = {
        "type": "ship",
        "to": dealer.code,
        "parts": [part_url(parts[0]), {"gtin": parts[1].gtin, "serial": parts[1].serial}],
        "occurred_at": "2026-05-01T08:00:00+08:00",
    }

    response = client.post("/api/v1/events", json=body, headers=auth_header(session, staff))

    assert response.status_code == 201
    assert response.json["occurred_at"] == "2026-05-01T08:00:00+08:00"
    assert response.json["business_step"] == "shipping"


def test_events_endpoint_wrong_activation_code_attempt_survives(session, client, parts, installer):
    vehicle = make_vehicle(session)
    body = {"type": "install", "parts": [part_url(parts[0])], "vin": vehicle.vin, "activation_code": "AAAAA-AAAAA"}

    response = client.post("/api/v1/events", json=body, headers=auth_header(session, installer))

    assert response.status_code == 401
    assert response.json["error"]["field"] == "activation_code"


def test_events_endpoint_naive_time_is_refused(session, client, parts, dealer):
    staff = make_user(session, Role.FACTORY_STAFF, parts[0].holder)
    body = {"type": "ship", "to": dealer.code, "parts": [part_url(parts[0])], "occurred_at": "2026-05-01T08:00:00"}

    response = client.post("/api/v1/events", json=body, headers=auth_header(session, staff))

    assert response.status_code == 400
    assert response.json["error"]["field"] == "occurred_at"


@pytest.mark.parametrize("event_type", ["ship", "sell", "destroy"])
def test_stranger_learns_nothing_of_a_part_in_transit(session, parts, dealer, event_type):
    staff = make_user(session, Role.FACTORY_STAFF, parts[0].holder)
    record(session, staff, "ship", parts[:1], to=dealer.code)
    stranger = make_user(session, Role.DEALER_STAFF, make_organization(session, kind="dealer"))

    with pytest.raises(Forbidden) as error:
        record(session, stranger, event_type, parts[:1], **({"to": dealer.code} if event_type == "ship" else {}))

    assert error.value.details["reason_code"] == "not_holder"
    assert "state" not in error.value.details
    assert PartState.IN_TRANSIT not in error.value.message


def test_stranger_installing_an_installed_part_learns_nothing_and_the_oem_is_alerted(session, parts, installer):
    record(
        session,
        installer,
        "install",
        parts[:1],
        vin=make_vehicle(session).vin,
        activation_code=activation_code(parts[0]),
    )
    stranger = make_user(session, Role.SHOP_STAFF, make_organization(session, kind="shop"))

    with pytest.raises(Forbidden) as error:
        record(
            session,
            stranger,
            "install",
            parts[:1],
            vin=make_vehicle(session).vin,
            activation_code=activation_code(parts[0]),
        )

    assert error.value.details["reason_code"] == "not_holder"
    assert "installed" not in error.value.message
    alert = session.scalar(select(Alert).where(Alert.part_id == parts[0].id))
    assert alert.cause == "activation_after_install"
    assert alert.organization_id == stranger.organization_id


def test_removal_destruction_and_inspection_are_in_the_activity_log(session, parts, installer):
    vehicle = make_vehicle(session)
    record(session, installer, "install", parts[:1], vin=vehicle.vin, activation_code=activation_code(parts[0]))
    removal = record(session, installer, "remove", parts[:1], vin=vehicle.vin, reason="worn")
    inspection = record(session, installer, "inspect", parts[:1])
    destruction = record(session, installer, "destroy", parts[:1])

    entries = session.execute(
        select(ActivityEntry.action, ActivityEntry.subject_id, ActivityEntry.actor_id, ActivityEntry.details)
        .where(ActivityEntry.subject_type == "custody_event")
        .order_by(ActivityEntry.id)
    ).all()
    named = [f"{parts[0].gtin}|{parts[0].serial}"]
    assert [(action, subject) for action, subject, _actor, _details in entries] == [
        ("traceability.part_remove", str(removal.id)),
        ("traceability.part_inspect", str(inspection.id)),
        ("traceability.part_destroy", str(destruction.id)),
    ]
    assert {actor for _action, _subject, actor, _details in entries} == {installer.id}
    assert entries[0].details == {"parts": named, "part_count": 1, "vehicle_id": vehicle.id, "reason": "worn"}
