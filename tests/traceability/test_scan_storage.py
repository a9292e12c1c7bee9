"""The scan's one read carries exactly what the part's records say, whatever state the part is in."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from app.security import Role
from tests.conftest import PUBLIC_BASE_URL
from tests.factories import make_organization, make_user, make_vehicle
from tests.statements import statements_of
from tests.traceability.factories import activation_code, keyring_for_tests, make_batch, record, stock_parts
from traceability.codes import build_part_url, tag_message
from traceability.commissioning import list_batch_parts
from traceability.models import Installation, Recall
from traceability.recalls import create_recall
from traceability.scan_storage import read_part

JSON = {"Accept": "application/json"}


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


def _signed_path(gtin: str, serial: str) -> str:
    """The path of a code correctly signed for `gtin` and `serial`, issued or not."""
    tag = keyring_for_tests().sign(tag_message(gtin, serial))
    return build_part_url(PUBLIC_BASE_URL, gtin, serial, tag).removeprefix(PUBLIC_BASE_URL)


def _part_reads(statements: list[str]) -> list[str]:
    return [
        statement for statement in statements if statement.lstrip().startswith("SELECT") and "FROM parts" in statement
    ]


def test_a_real_serial_under_another_gtin_is_a_gtin_mismatch_found_by_the_one_read(client, session):
    part = list_batch_parts(session, make_batch(session, quantity=1))[0]
    other_gtin = "06901234000023" if part.gtin != "06901234000023" else "06901234000030"

    response, statements = statements_of(
        session, lambda: client.get(_signed_path(other_gtin, part.serial), headers=JSON)
    )

    assert response.json["verdict"] == "counterfeit" and response.json["reasons"] == ["gtin_mismatch"]
    assert len(_part_reads(statements)) == 1


def test_an_unknown_serial_is_judged_by_the_one_read(client, session):
    part = list_batch_parts(session, make_batch(session, quantity=1))[0]

    response, statements = statements_of(
        session, lambda: client.get(_signed_path(part.gtin, "NEVERISSUED1"), headers=JSON)
    )

    assert response.json["verdict"] == "counterfeit" and response.json["reasons"] == ["unknown_serial"]
    assert len(_part_reads(statements)) == 1
