"""The scan's one read carries exactly what the part's records say, whatever state the part is in."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from app.security import Role
from tests.factories import make_organization, make_user, make_vehicle
from tests.traceability.factories import activation_code, make_batch, record, stock_parts
from traceability.commissioning import list_batch_parts
from traceability.models import Installation, Recall
from traceability.recalls import create_recall
from traceability.scan_storage import read_part


def test_read_part_of_a_fresh_part_has_its_factory_record_and_nothing_else(session):
    part = list_batch_parts(session, make_batch(session, quantity=1))[0]

    scanned = read_part(session, part.gtin, part.serial)

    batch, part_type = part.batch, part.part_type
    assert (scanned.id, scanned.state, scanned.scan_count) == (part.id, "produced", 0)
    assert scanned.guide_price == part_type.guide_price and isinstance(scanned.guide_price, Decimal)
    assert (scanned.part_number, scanned.name_zh, scanned.warranty_months) == (
        part_type.part_number,
        part_type.name_zh,
        part_type.warranty_months,
    )
    assert (scanned.lot, scanned.production_date, scanned.qc_result) == (
        batch.lot,
        batch.production_date,
        batch.qc_result,
    )
    assert (scanned.factory_name, scanned.factory_lat) == (batch.factory.name, batch.factory.lat)
    assert scanned.recall_code is None and scanned.seller_name is None
    assert scanned.installed_at is None and scanned.vin is None and scanned.shop_name is None


def test_read_part_of_an_installed_part_has_seller_installation_and_recall(session):
    part = list_batch_parts(session, make_batch(session, quantity=1))[0]
    dealer = make_organization(session, kind="dealer", name="Zhengzhou Parts Depot")
    shop = make_organization(session, kind="shop", name="Xinyang Truck Care", rating=Decimal("4.60"), rating_count=31)
    dealer_staff = stock_parts(session, [part], dealer)
    record(session, dealer_staff, "sell", [part], to=shop.code, price="880.00")
    vehicle = make_vehicle(session)
    shop_staff = make_user(session, Role.SHOP_STAFF, shop)
    record(session, shop_staff, "install", [part], vin=vehicle.vin, activation_code=activation_code(part))
    recalled = [{"gtin": part.gtin, "serial": part.serial}]
    create_recall(session, make_user(session), serials=recalled, notice_zh="召回", notice_en="Recall")

    scanned = read_part(session, part.gtin, part.serial)

    installation = session.scalars(select(Installation).where(Installation.part_id == part.id)).one()
    recall = session.scalars(select(Recall)).one()
    assert scanned.state == "installed" and scanned.vin == vehicle.vin
    assert scanned.installed_at == installation.installed_at and scanned.installed_at.tzinfo is not None
    assert (scanned.shop_name, scanned.shop_rating, scanned.shop_rating_count) == ("Xinyang Truck Care", 4.6, 31)
    assert (scanned.seller_name, scanned.sold_at) == ("Zhengzhou Parts Depot", part.sold_at)
    assert (scanned.recall_code, scanned.recall_notice_en) == (recall.code, "Recall")


def test_read_part_of_an_unknown_code_is_none(session):
    assert read_part(session, "06901234000016", "NOSUCHSERIAL") is None
