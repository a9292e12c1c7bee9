"""Start pages: each role sees its own tasks with its own live figures, and nobody else's links."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.crm.models import Organization
from app.db import utcnow
from app.security import Role
from network.models import Booking
from tests.factories import make_driver, make_organization, make_user, make_vehicle, sign_in_client
from tests.network.factories import make_shop
from tests.traceability.factories import make_batch, make_factory_staff, stock_parts
from traceability.commissioning import list_batch_parts


def _tiles(page: str) -> dict[str, str]:
    """Return each tile's key with its figure (empty when it has none)."""
    tiles = {}
    for chunk in page.split('data-tile="')[1:]:
        key = chunk.split('"')[0]
        figure = chunk.split('class="figure">')[1].split("<")[0] if 'class="figure">' in chunk.split("</li>")[0] else ""
        tiles[key] = figure
    return tiles


def test_anonymous_start_page_invites_to_sign_in(client):
    page = client.get("/").text

    assert 'data-tile="' not in page and "/login" in page


def test_driver_sees_trucks_bookings_roadside_and_scan_but_no_counter(session, client):
    user, customer = make_driver(session)
    make_vehicle(session, owner=customer)
    make_vehicle(session, owner=customer)
    make_vehicle(session)  # someone else's truck is not counted
    sign_in_client(client, user)

    page = client.get("/").text

    tiles = _tiles(page)
    assert set(tiles) == {"trucks", "bookings", "roadside", "scan", "find", "ahead", "reviews"}
    assert tiles["trucks"] == "2" and tiles["bookings"] == "0"
    assert "/counter" not in page and "/factory/" not in page
    assert "我的卡车" in page and "司机" in page  # who is signed in, in the top bar
    assert 'class="menu-toggle"' in page and "/static/menu.js" in page


def test_shop_sees_its_bookings_offers_stock_and_no_factory_links(session, client):
    shop = make_shop(session)
    organization = session.get(Organization, shop.organization_id)
    parts = list_batch_parts(session, make_batch(session, quantity=2))
    staff = stock_parts(session, parts, organization)
    driver, customer = make_driver(session)
    local = ZoneInfo("Asia/Shanghai")
    today = datetime.combine(utcnow().astimezone(local).date(), time(10), tzinfo=local)
    session.add(
        Booking(
            shop_id=shop.id,
            customer_id=customer.id,
            vehicle_id=make_vehicle(session, owner=customer).id,
            start=today,
            end=today + timedelta(hours=1),
            service="maintenance",
        )
    )
    session.flush()
    sign_in_client(client, staff)

    page = client.get("/").text

    tiles = _tiles(page)
    assert {"today", "offers", "install", "receive", "sell", "stock", "plaque", "reviews"} <= set(tiles)
    assert tiles["stock"] == "2" and tiles["today"] == "1"
    assert "/factory/" not in page and "/counter?action=install" in page
    assert shop.name in page


def test_dealer_and_warehouse_see_receive_ship_sell_stock(session, client):
    for role, kind in ((Role.DEALER_STAFF, "dealer"), (Role.WAREHOUSE_STAFF, "warehouse")):
        staff = make_user(session, role, make_organization(session, kind=kind))
        sign_in_client(client, staff)

        tiles = _tiles(client.get("/").text)

        assert {"receive", "ship", "sell", "stock"} <= set(tiles)
        assert ("install" in tiles) == (role == Role.DEALER_STAFF)


def test_factory_sees_batches_commission_labels_with_its_own_counts(session, client):
    staff = make_factory_staff(session)
    factory = session.get(Organization, staff.organization_id)
    make_batch(session, quantity=3, factory=factory, created_by=staff)
    make_batch(session, quantity=5)  # another factory's
    sign_in_client(client, staff)

    page = client.get("/").text

    tiles = _tiles(page)
    assert set(tiles) == {"batches", "commission", "labels", "ship"}
    assert tiles["batches"] == "1" and tiles["commission"] == "3" and tiles["ship"] == "3"
    assert "/console" not in page.split("<main>")[1]


def test_oem_start_page_links_to_the_dashboard(session, client):
    sign_in_client(client, make_user(session, Role.OEM_ADMIN))

    page = client.get("/").text

    assert 'href="/oem"' in page and "/counter" not in page
