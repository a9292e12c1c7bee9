"""EPCIS 2.0 export: schema validity, event mapping, authorization, filters and paging."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from jsonschema import Draft7Validator

from app.security import Role
from tests.conftest import PUBLIC_BASE_URL
from tests.factories import auth_header, make_organization, make_user, make_vehicle
from tests.traceability.factories import activation_code, make_batch, record, stock_parts
from traceability.codes import build_part_uri
from traceability.commissioning import list_batch_parts
from traceability.epcis import format_offset

SCHEMA = json.loads((Path(__file__).parent / "data" / "EPCIS-JSON-Schema.json").read_text(encoding="utf-8"))
VALIDATOR = Draft7Validator(SCHEMA, format_checker=Draft7Validator.FORMAT_CHECKER)


@pytest.fixture
def dealer(session):
    return make_organization(session, kind="dealer", code="DLR-E", city="Zhengzhou", lat=34.75, lon=113.62)


@pytest.fixture
def parts(session):
    return list_batch_parts(session, make_batch(session, quantity=3))


@pytest.fixture
def oem(session):
    return make_user(session, Role.OEM_ADMIN, make_organization(session, kind="oem"))


@pytest.fixture
def life(session, parts, dealer):
    """Take the first part through every event type; return the vehicle it was fitted to."""
    staff = stock_parts(session, parts, dealer)
    record(session, staff, "inspect", parts[:1], occurred_at=datetime.fromisoformat("2026-05-02T10:30:00+09:00"))
    record(session, staff, "sell", parts[:1], price="120.5")
    vehicle = make_vehicle(session)
    record(session, staff, "install", parts[:1], vin=vehicle.vin, activation_code=activation_code(parts[0]))
    record(session, staff, "remove", parts[:1], vin=vehicle.vin, reason="worn")
    record(session, staff, "destroy", parts[:1])
    return vehicle


def fetch(client, session, user, **params):
    response = client.get("/api/v1/epcis/events", query_string=params, headers=auth_header(session, user))
    assert response.status_code == 200, response.get_json()
    return response


def events_of(response) -> list[dict]:
    return response.get_json()["epcisBody"]["eventList"]


def test_epcis_document_validates_against_gs1_schema(session, client, oem, parts, life):
    response = fetch(client, session, oem)

    document = response.get_json()
    assert response.mimetype == "application/ld+json"
    assert list(VALIDATOR.iter_errors(document)) == []
    assert document["type"] == "EPCISDocument"
    assert len(events_of(response)) == 8


def test_epcis_schema_check_catches_a_broken_document(session, client, oem, parts, life):
    document = fetch(client, session, oem).get_json()

    document["epcisBody"]["eventList"][1]["eventTimeZoneOffset"] = "+8"

    assert list(VALIDATOR.iter_errors(document)) != []


@pytest.mark.parametrize(
    ("step", "event_type", "action", "disposition"),
    [
        ("commissioning", "ObjectEvent", "ADD", "active"),
        ("shipping", "ObjectEvent", "OBSERVE", "in_transit"),
        ("receiving", "ObjectEvent", "OBSERVE", "sellable_accessible"),
        ("inspecting", "ObjectEvent", "OBSERVE", "sellable_accessible"),
        ("retail_selling", "ObjectEvent", "OBSERVE", "retail_sold"),
        ("installing", "AssociationEvent", "ADD", "in_progress"),
        ("removing", "AssociationEvent", "DELETE", "non_sellable_other"),
        ("destroying", "ObjectEvent", "DELETE", "destroyed"),
    ],
)
def test_epcis_custody_events_map_to_cbv(session, client, oem, parts, life, step, event_type, action, disposition):
    response = fetch(client, session, oem, gtin=parts[0].gtin, serial=parts[0].serial, biz_step=step)

    (event,) = events_of(response)
    assert (event["type"], event["action"], event["disposition"]) == (event_type, action, disposition)
    part_uri = build_part_uri(PUBLIC_BASE_URL, parts[0].gtin, parts[0].serial)
    assert part_uri in event.get("epcList", event.get("childEPCs"))
    assert event["readPoint"]["id"].startswith(f"{PUBLIC_BASE_URL}/id/organization/")


def test_epcis_install_names_vehicle_as_parent(session, client, oem, parts, life):
    response = fetch(client, session, oem, biz_step="installing")

    (event,) = events_of(response)
    assert event["parentID"] == f"{PUBLIC_BASE_URL}/id/vehicle/{life.vin}"
    assert event["childEPCs"] == [build_part_uri(PUBLIC_BASE_URL, parts[0].gtin, parts[0].serial)]
    assert event["bizLocation"] == {"id": f"{PUBLIC_BASE_URL}/id/organization/DLR-E"}


def test_epcis_ship_names_source_and_destination(session, client, oem, parts, life):
    (event,) = events_of(fetch(client, session, oem, biz_step="shipping"))

    assert event["destinationList"] == [
        {"type": "possessing_party", "destination": f"{PUBLIC_BASE_URL}/id/organization/DLR-E"}
    ]
    assert len(event["epcList"]) == 3
    assert "bizLocation" not in event


def test_epcis_commissioning_states_lot_and_quantity(session, client, oem, parts, life):
    (event,) = events_of(fetch(client, session, oem, biz_step="commissioning"))

    batch = parts[0].batch
    assert event["quantityList"] == [
        {"epcClass": f"{PUBLIC_BASE_URL}/01/{parts[0].gtin}/10/{batch.lot}", "quantity": 3}
    ]
    assert event["epcList"] == []
    assert event["ilmd"]["cbvmda:lotNumber"] == batch.lot


def test_epcis_event_time_keeps_reported_offset(session, client, oem, parts, life):
    (event,) = events_of(fetch(client, session, oem, biz_step="inspecting"))

    assert event["eventTime"] == "2026-05-02T10:30:00.000+09:00"
    assert event["eventTimeZoneOffset"] == "+09:00"


@pytest.mark.parametrize(("minutes", "text"), [(0, "+00:00"), (480, "+08:00"), (-210, "-03:30"), (840, "+14:00")])
def test_format_offset_renders_epcis_offsets(minutes, text):
    assert format_offset(minutes) == text


def test_epcis_never_leaks_tags(session, client, oem, parts, life):
    text = fetch(client, session, oem).get_data(as_text=True)

    assert "?c=" not in text
    assert all(part.tag not in text for part in parts)


def test_epcis_uninvolved_dealer_sees_nothing(session, client, parts, life):
    stranger = make_user(session, Role.DEALER_STAFF, make_organization(session, kind="dealer"))

    everything = fetch(client, session, stranger)
    by_part = fetch(client, session, stranger, gtin=parts[0].gtin, serial=parts[0].serial)

    assert events_of(everything) == []
    assert events_of(by_part) == []


def test_epcis_organization_sees_only_events_it_took_part_in(session, client, parts, life, dealer):
    factory_staff = make_user(session, Role.FACTORY_STAFF, parts[0].batch.factory)

    steps = [event["bizStep"] for event in events_of(fetch(client, session, factory_staff))]

    assert steps == ["commissioning", "shipping"]


def test_epcis_driver_is_refused(session, client, parts, life):
    driver = make_user(session, Role.DRIVER)

    response = client.get("/api/v1/epcis/events", headers=auth_header(session, driver))

    assert response.status_code == 403


def test_epcis_filters_by_digital_link_uri_with_tag_ignored(session, client, oem, parts, life):
    url = f"{PUBLIC_BASE_URL}/01/{parts[1].gtin}/21/{parts[1].serial}?c={parts[1].tag}"

    steps = [event["bizStep"] for event in events_of(fetch(client, session, oem, uri=url))]

    assert steps == ["commissioning", "shipping", "receiving"]


def test_epcis_filters_by_time_range(session, client, oem, parts, life):
    response = fetch(client, session, oem, since="2026-05-02T09:00:00+08:00", until="2026-05-02T10:00:00+08:00")

    assert [event["bizStep"] for event in events_of(response)] == ["inspecting"]


def test_epcis_accepts_cbv_uri_for_business_step(session, client, oem, parts, life):
    response = fetch(client, session, oem, biz_step="https://ref.gs1.org/cbv/BizStep-retail_selling")

    (event,) = events_of(response)
    assert event["milepost:price"] == {"value": "120.50", "currency": "CNY"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"biz_step": "teleporting"}, "biz_step"),
        ({"gtin": "06901234000017", "serial": "ABC"}, "gtin"),
        ({"gtin": "06901234000016"}, "serial"),
        ({"uri": "https://mp.test/01/123"}, "uri"),
        ({"since": "2026-05-02T09:00:00"}, "since"),
        ({"next_page_token": "abc"}, "next_page_token"),
    ],
)
def test_epcis_bad_query_is_400_naming_field(session, client, oem, params, field):
    response = client.get("/api/v1/epcis/events", query_string=params, headers=auth_header(session, oem))

    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == field


def test_epcis_unknown_part_gives_empty_document(session, client, oem, parts, life):
    response = fetch(client, session, oem, gtin=parts[0].gtin, serial="ZZZZZZZZZZZZ")

    assert events_of(response) == []


def test_epcis_pages_follow_link_until_done(session, client, oem, parts, life):
    seen: list[str] = []
    response = fetch(client, session, oem, per_page=3)
    while True:
        seen += [event["eventID"] for event in events_of(response)]
        link = response.headers.get("Link")
        if link is None:
            break
        target = urlsplit(link[1 : link.index(">")])
        response = client.get(f"{target.path}?{target.query}", headers=auth_header(session, oem))

    assert len(seen) == len(set(seen)) == 8


def test_epcis_next_link_uses_public_base_url_not_the_request_host(session, client, oem, parts, life):
    response = client.get(
        "/api/v1/epcis/events",
        query_string={"per_page": 3},
        headers={**auth_header(session, oem), "Host": "evil.example"},
    )

    link = response.headers["Link"]
    assert link.startswith(f"<{PUBLIC_BASE_URL}/api/v1/epcis/events?")
    assert "evil.example" not in link
