"""Triage: conversions, the booking's shop queue, and complaints kept away from the shop they are about."""

from __future__ import annotations

from sqlalchemy import func, select

from app.config import load_settings
from app.security import Role
from network.models import AssistanceRequest
from network.search import load_shop_index
from network.settings import network_settings
from service.access import may_see_request
from service.intake import open_from_disputed_booking, open_from_escalated_roadside, submit_driver_request
from service.models import LinkKind
from service.queues import add_member, organization_queue
from service.triage import Conversions
from tests.factories import make_driver, make_user, make_vehicle
from tests.network.factories import make_assistance_request
from tests.reviews.factories import make_booking, make_shop
from tests.service.factories import at, settings

SETTINGS = settings()


def test_booking_matter_goes_to_that_shops_queue(session):
    shop = make_shop(session)
    booking = make_booking(session, shop, status="confirmed")
    driver = booking.customer.user

    request = submit_driver_request(
        session,
        driver,
        category="booking",
        text="能改到下午吗",
        vin=booking.vehicle.vin,
        lat=None,
        lon=None,
        channel="page",
        settings=SETTINGS,
        now=at("2026-11-30 09:00"),
        links=[(LinkKind.BOOKING, booking.id)],
    )

    assert request.queue.code == f"shop:{shop.code}"


def test_complaint_about_a_shop_goes_to_the_oem_network_team_and_the_shop_never_sees_it(session):
    shop = make_shop(session)
    booking = make_booking(session, shop, status="rejected")
    staff = make_user(session, Role.SHOP_STAFF, organization=shop.organization)
    add_member(session, organization_queue(session, shop.organization), staff)

    request = open_from_disputed_booking(
        session, booking.customer.user, booking, "到店后说没有工位", SETTINGS, at("2026-11-30 09:00")
    )

    assert request.queue.code == "oem:network"
    assert request.concerns_organization_id == shop.organization_id
    assert not may_see_request(session, staff, request)
    assert may_see_request(session, booking.customer.user, request)


def test_roadside_category_opens_an_assistance_request_linked_to_the_request(session):
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    conversions = Conversions(index=load_shop_index(session), network=network_settings(load_settings()))

    request = submit_driver_request(
        session,
        user,
        category="roadside",
        text="爆胎了",
        vin=vehicle.vin,
        lat=34.7,
        lon=113.6,
        channel="page",
        settings=SETTINGS,
        now=at("2026-11-30 09:00"),
        conversions=conversions,
    )

    job_ids = [link.ref_id for link in request.links if link.kind == LinkKind.ASSISTANCE]
    assert len(job_ids) == 1
    assert session.get(AssistanceRequest, job_ids[0]).vehicle_id == vehicle.id
    assert request.queue.code == "oem:desk"


def test_roadside_request_of_a_truck_already_waiting_for_help_links_the_open_job(session):
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    waiting = make_assistance_request(session, customer=customer, vehicle=vehicle)
    conversions = Conversions(index=load_shop_index(session), network=network_settings(load_settings()))

    request = submit_driver_request(
        session,
        user,
        category="roadside",
        text="还在等救援",
        vin=vehicle.vin,
        lat=34.7,
        lon=113.6,
        channel="page",
        settings=SETTINGS,
        now=at("2026-11-30 09:00"),
        conversions=conversions,
    )

    assert [link.ref_id for link in request.links if link.kind == LinkKind.ASSISTANCE] == [waiting.id]
    assert session.scalar(select(func.count()).select_from(AssistanceRequest)) == 1


def test_escalated_roadside_job_opens_one_desk_request(session):
    job = make_assistance_request(session)

    first = open_from_escalated_roadside(session, job, SETTINGS, at("2026-11-30 02:00"))
    again = open_from_escalated_roadside(session, job, SETTINGS, at("2026-11-30 02:05"))

    assert first.id == again.id
    assert first.queue.code == "oem:desk" and first.priority == "p1"


def test_counterfeit_with_a_scan_links_the_alert_of_that_scan(session):
    from traceability.models import Alert, Scan

    scan = Scan(gtin="06901234000017", serial="ZZZZ9999", verdict="counterfeit", reasons=["unknown_serial"])
    session.add(scan)
    session.flush()
    user, customer = make_driver(session)

    request = submit_driver_request(
        session,
        user,
        category="counterfeit",
        text="扫码说是假货",
        vin=None,
        lat=None,
        lon=None,
        channel="page",
        settings=SETTINGS,
        now=at("2026-11-30 09:00"),
        links=[(LinkKind.SCAN, scan.id)],
    )

    alert_ids = [link.ref_id for link in request.links if link.kind == LinkKind.ALERT]
    alert = session.scalar(select(Alert).where(Alert.id == alert_ids[0]))
    assert alert.serial == "ZZZZ9999"
    assert request.queue.code == "oem:parts"
