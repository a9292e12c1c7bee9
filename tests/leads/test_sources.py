"""Lower domains write touchpoints through the core; each becomes (or joins) a lead."""

from __future__ import annotations

from sqlalchemy import select

from app.config import DEFAULTS
from app.crm.models import Touchpoint
from leads.intake import take_in_touchpoints
from leads.models import Lead
from service.intake import log_phone_call
from service.settings import service_settings
from tests.factories import auth_header, make_driver, make_user, make_vehicle
from tests.leads.helpers import local, make_world, settings
from tests.network.factories import make_shop, next_slot
from tests.traceability.factories import make_batch, part_url
from traceability.commissioning import list_batch_parts


def _touchpoints(session, channel):
    return session.scalars(select(Touchpoint).where(Touchpoint.channel == channel)).all()


def test_booking_writes_a_booking_touchpoint_that_becomes_a_lead(client, session):
    make_world(session)
    shop = make_shop(session)
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    body = {"shop": shop.code, "vin": vehicle.vin, "service": "maintenance", "start": next_slot().isoformat()}

    response = client.post("/api/v1/bookings", json=body, headers=auth_header(session, user))
    take_in_touchpoints(session, settings(), local(2026, 3, 2, 10))

    assert response.status_code == 201, response.get_json()
    (touchpoint,) = _touchpoints(session, "booking")
    assert (touchpoint.kind, touchpoint.vin, touchpoint.consent_basis) == ("maintenance", vehicle.vin, "service")
    lead = session.scalar(select(Lead).where(Lead.phone == customer.phone))
    assert (lead.channel, lead.consent_topic) == ("booking", "maintenance")


def test_roadside_request_writes_a_roadside_touchpoint(client, session):
    make_shop(session, lat=34.76, lon=113.65)
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    body = {"lat": 34.75, "lon": 113.62, "vin": vehicle.vin, "description": "爆胎"}

    response = client.post("/api/v1/assistance", json=body, headers=auth_header(session, user))

    assert response.status_code == 201, response.get_json()
    assert [t.phone for t in _touchpoints(session, "roadside")] == [customer.phone]


def test_driver_told_a_part_is_for_sale_writes_a_scan_touchpoint(client, session):
    user, customer = make_driver(session)
    part = list_batch_parts(session, make_batch(session, quantity=1))[0]

    anonymous = client.post("/api/v1/scans", json={"url": part_url(part), "intent": "buy"})
    signed_in = client.post(
        "/api/v1/scans", json={"url": part_url(part), "intent": "buy"}, headers=auth_header(session, user)
    )
    plain = client.post("/api/v1/scans", json={"url": part_url(part)}, headers=auth_header(session, user))

    assert (anonymous.status_code, signed_in.status_code, plain.status_code) == (200, 200, 200)
    (touchpoint,) = _touchpoints(session, "scan")
    assert (touchpoint.phone, touchpoint.kind) == (customer.phone, "parts")
    assert "offered for sale" in touchpoint.summary


def test_service_request_writes_a_service_touchpoint(session):
    agent = make_user(session)

    log_phone_call(
        session, agent, phone="13912345678", caller_name="", category="parts", text="要买滤芯", vin=None,
        settings=service_settings(DEFAULTS), now=local(2026, 3, 2, 10),
    )  # fmt: skip

    (touchpoint,) = _touchpoints(session, "service_request")
    assert (touchpoint.phone, touchpoint.kind) == ("13912345678", "parts")
