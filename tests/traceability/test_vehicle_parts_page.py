"""The truck page's installed parts: warranty as the scan page counts it, and a recall shown on the truck."""

from __future__ import annotations

from app.security import Role
from tests.factories import make_driver, make_user, make_vehicle, sign_in_client
from tests.statements import statements_of
from tests.traceability.factories import install_part_on
from traceability.recalls import create_recall

ZH = {"Accept-Language": "zh-CN"}


def test_truck_page_lists_an_installed_part_with_its_warranty(client, session):
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    part = install_part_on(session, vehicle.vin)
    sign_in_client(client, user)

    response = client.get(f"/crm/vehicles/{vehicle.vin}", headers=ZH)

    assert response.status_code == 200
    assert part.part_type.name_zh in response.text
    assert part.serial in response.text
    assert "郑州重汽服务站" in response.text
    assert "质保" in response.text and "有效期至" in response.text


def test_truck_page_shows_a_recall_of_a_part_on_it(client, session):
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    part = install_part_on(session, vehicle.vin)
    oem = make_user(session, Role.OEM_ADMIN)
    recall = create_recall(
        session, oem, notice_zh="请到服务站更换滤清器", notice_en="Replace the filter", batch_id=part.batch_id
    )
    sign_in_client(client, user)

    response = client.get(f"/crm/vehicles/{vehicle.vin}", headers=ZH)

    assert f'id="vehicle-recall-{recall.code}"' in response.text
    assert "请到服务站更换滤清器" in response.text


def test_truck_page_without_parts_says_so(client, session):
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    sign_in_client(client, user)

    response = client.get(f"/crm/vehicles/{vehicle.vin}", headers=ZH)

    assert "还没有登记带里程碑码的零件" in response.text


def test_vehicle_parts_api_gives_warranty_and_recall(client, session):
    user, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    install_part_on(session, vehicle.vin)
    sign_in_client(client, user)

    item = client.get(f"/api/v1/vehicles/{vehicle.vin}/parts").get_json()["items"][0]

    assert item["warranty"]["active"] is True
    assert item["recall"] is None


def _statements(connection, action) -> int:
    return len(statements_of(connection, action)[1])


def test_truck_page_reads_its_parts_in_as_many_statements_for_four_parts_as_for_one(client, session, connection):
    user, customer = make_driver(session)
    one, four = make_vehicle(session, owner=customer), make_vehicle(session, owner=customer)
    install_part_on(session, one.vin)
    parts = [install_part_on(session, four.vin, shop_name=f"服务站 {number}") for number in range(4)]
    oem = make_user(session, Role.OEM_ADMIN)
    create_recall(session, oem, notice_zh="召回", notice_en="Recall", batch_id=parts[0].batch_id)
    sign_in_client(client, user)
    one_path, four_path = f"/crm/vehicles/{one.vin}", f"/crm/vehicles/{four.vin}"
    client.get(one_path)

    for_one = _statements(connection, lambda: client.get(one_path))
    for_four = _statements(connection, lambda: client.get(four_path))

    assert for_four == for_one
