"""The counter: many codes into one custody event, an outcome per code in words, nothing written for refusals."""

from __future__ import annotations

from sqlalchemy import func, select

from app.security import Role
from tests.factories import make_organization, make_user, make_vehicle, sign_in_client
from tests.traceability.factories import activation_code, make_batch, part_url, record, stock_parts
from traceability.commissioning import list_batch_parts
from traceability.models import CustodyEvent, EventType, PartState


def _post(client, csrf, action, codes, **fields):
    data = {"csrf_token": csrf, "action": action, "codes": "\n".join(codes), **fields}
    return client.post("/counter", data=data)


def _events(session, event_type):
    return session.scalar(select(func.count()).select_from(CustodyEvent).where(CustodyEvent.event_type == event_type))


def _shipped_to(session, organization, quantity=3):
    batch = make_batch(session, quantity=quantity)
    parts = list_batch_parts(session, batch)
    record(session, make_user(session, Role.FACTORY_STAFF, parts[0].holder), "ship", parts, to=organization.code)
    return parts


def test_receive_with_mixed_codes_records_one_event_and_refuses_the_others_in_chinese(session, client):
    shop = make_organization(session, kind="shop")
    elsewhere = make_organization(session, kind="shop")
    mine = _shipped_to(session, shop, 2)
    theirs = _shipped_to(session, elsewhere, 1)
    staff = make_user(session, Role.SHOP_STAFF, shop)
    csrf = sign_in_client(client, staff)
    before = _events(session, EventType.RECEIVE)

    codes = [part_url(mine[0]), mine[1].serial, theirs[0].serial, "X" * 25, mine[0].serial]
    response = _post(client, csrf, "receive", codes)

    assert response.status_code == 200
    assert _events(session, EventType.RECEIVE) == before + 1
    session.expire_all()
    assert [part.state for part in mine] == [PartState.IN_STOCK, PartState.IN_STOCK]
    assert theirs[0].state == PartState.IN_TRANSIT and theirs[0].holder_id != shop.id
    page = response.text
    assert "2 个已接受，3 个被拒绝" in page
    assert "贵机构并不持有此零件" in page  # the other shop's part: the existing holder rule, in words
    assert "这不是零件码" in page
    assert "已在清单中（第 1 行）" in page
    assert "not_holder" not in page and "reason_code" not in page
    # The refused codes stay in the list to be fixed; the accepted ones are gone.
    textarea = page.split('name="codes"')[1].split("</textarea>")[0]
    assert theirs[0].serial in textarea and mine[1].serial not in textarea


def test_sell_names_price_and_buyer_and_refuses_a_recalled_or_foreign_part(session, client):
    dealer = make_organization(session, kind="dealer")
    parts = list_batch_parts(session, make_batch(session, quantity=2))
    staff = stock_parts(session, parts, dealer)
    other_parts = list_batch_parts(session, make_batch(session, quantity=1))
    csrf = sign_in_client(client, staff)

    response = _post(
        client, csrf, "sell", [parts[0].serial, other_parts[0].serial], price="120.50", buyer_phone="13900139000"
    )

    assert response.status_code == 200
    session.expire_all()
    assert parts[0].state == PartState.SOLD and parts[1].state == PartState.IN_STOCK
    assert other_parts[0].state == PartState.PRODUCED
    assert "1 个已接受，1 个被拒绝" in response.text


def test_a_bad_destination_is_an_inline_error_naming_the_field_and_writes_nothing(session, client):
    warehouse = make_organization(session, kind="warehouse")
    parts = list_batch_parts(session, make_batch(session, quantity=1))
    staff = stock_parts(session, parts, warehouse)
    csrf = sign_in_client(client, staff)
    before = _events(session, EventType.SHIP)

    response = _post(client, csrf, "ship", [parts[0].serial], to="NO-SUCH-ORG")

    assert response.status_code == 404
    assert 'name="to"' in response.text and 'aria-invalid="true"' in response.text.split('name="to"')[1][:200]
    assert _events(session, EventType.SHIP) == before
    session.expire_all()
    assert parts[0].state == PartState.IN_STOCK


def test_install_takes_each_parts_activation_code_and_refuses_a_wrong_one(session, client):
    shop = make_organization(session, kind="shop")
    parts = list_batch_parts(session, make_batch(session, quantity=2))
    staff = stock_parts(session, parts, shop)
    vehicle = make_vehicle(session)
    csrf = sign_in_client(client, staff)

    lines = [f"{part_url(parts[0])} {activation_code(parts[0])}", f"{parts[1].serial} WRONGWRONG"]
    response = _post(client, csrf, "install", lines, vin=vehicle.vin)

    assert response.status_code == 200
    session.expire_all()
    assert parts[0].state == PartState.INSTALLED and parts[0].vehicle_id == vehicle.id
    assert parts[1].state == PartState.IN_STOCK and parts[1].vehicle_id is None
    assert "激活码错误" in response.text


def test_remove_needs_a_reason(session, client):
    shop = make_organization(session, kind="shop")
    staff = make_user(session, Role.SHOP_STAFF, shop)
    csrf = sign_in_client(client, staff)

    response = _post(client, csrf, "remove", ["ANY"], vin=make_vehicle(session).vin)

    assert response.status_code == 400
    assert 'aria-invalid="true"' in response.text.split('name="reason"')[1][:200]


def test_a_driver_cannot_open_the_counter(session, client):
    sign_in_client(client, make_user(session, Role.DRIVER))

    assert client.get("/counter").status_code == 403
    assert client.get("/counter/stock").status_code == 403


def test_each_role_sees_only_its_own_actions(session, client):
    sign_in_client(client, make_user(session, Role.WAREHOUSE_STAFF, make_organization(session, kind="warehouse")))

    page = client.get("/counter?action=install").text

    assert '/counter?action=install"' not in page and '/counter?action=receive"' in page


def test_stock_lists_what_the_organization_holds_and_what_is_on_its_way(session, client):
    dealer = make_organization(session, kind="dealer")
    parts = list_batch_parts(session, make_batch(session, quantity=2))
    staff = stock_parts(session, parts, dealer)
    _shipped_to(session, dealer, 3)
    sign_in_client(client, staff)

    page = client.get("/counter/stock").text

    assert "在库" in page and parts[0].part_type.name_zh in page
    assert "<td>3</td>" in page and "<td>2</td>" in page


def test_scan_page_opens_a_pasted_code_and_refuses_anything_else(session, client):
    part = list_batch_parts(session, make_batch(session, quantity=1))[0]

    opened = client.get("/scan", query_string={"code": part_url(part)})
    refused = client.get("/scan", query_string={"code": "hello"})

    assert opened.status_code == 302 and f"/01/{part.gtin}/21/{part.serial}?c={part.tag}" in opened.location
    assert refused.status_code == 400


def test_two_counters_receiving_the_same_parts_at_once_record_them_once(committed_engine, committed_session):
    from app.db import make_sessionmaker
    from app.security import User
    from tests.races import race
    from tests.traceability.factories import LIMITS, keyring_for_tests
    from traceability.counter import CounterRequest, record_counter_event

    session = committed_session
    shop = make_organization(session, kind="shop")
    parts = _shipped_to(session, shop, 3)
    staff = [make_user(session, Role.SHOP_STAFF, shop).id for _ in range(2)]
    serials = [part.serial for part in parts]
    session.commit()
    results = []

    def prepare(worker, user_id):
        actor = worker.get(User, user_id)

        def act():
            request = CounterRequest(action="receive", lines=serials)
            results.append(record_counter_event(worker, keyring_for_tests(), actor, request, LIMITS, "198.51.100.9"))

        return act

    outcomes = race(make_sessionmaker(committed_engine), prepare, [(user_id,) for user_id in staff])

    assert outcomes == ["ok", "ok"]
    assert sorted(result.accepted for result in results) == [0, 3]
    loser = next(result for result in results if result.accepted == 0)
    assert {outcome.reason for outcome in loser.outcomes} == {"invalid_transition"}
    session.expire_all()
    assert _events(session, EventType.RECEIVE) == 1


def test_english_counter_page_gives_reasons_in_english(session, client):
    shop = make_organization(session, kind="shop")
    staff = make_user(session, Role.SHOP_STAFF, shop)
    csrf = sign_in_client(client, staff)

    response = client.post("/counter?lang=en", data={"csrf_token": csrf, "action": "receive", "codes": "X" * 25})

    assert "0 accepted, 1 refused" in response.text
    assert "This is not a part code" in response.text
    assert "柜台" not in response.text.split("<main>")[1]


def test_the_installing_shop_removes_a_part_with_its_reason_and_inspects_one(session, client):
    shop = make_organization(session, kind="shop")
    parts = list_batch_parts(session, make_batch(session, quantity=2))
    staff = stock_parts(session, parts, shop)
    vehicle = make_vehicle(session)
    record(session, staff, "install", [parts[0]], vin=vehicle.vin, activation_code=activation_code(parts[0]))
    csrf = sign_in_client(client, staff)

    wrong_vehicle = _post(client, csrf, "remove", [parts[0].serial], vin=make_vehicle(session).vin, reason="漏油")
    removed = _post(client, csrf, "remove", [parts[0].serial], vin=vehicle.vin, reason="漏油")
    inspected = _post(client, csrf, "inspect", [parts[1].serial], reason="外观完好")

    assert "零件没有安装在该车辆上" in wrong_vehicle.text
    assert "1 个已接受，0 个被拒绝" in removed.text and "1 个已接受，0 个被拒绝" in inspected.text
    session.expire_all()
    assert parts[0].state == PartState.REMOVED and parts[0].vehicle_id is None
    assert _events(session, EventType.INSPECT) == 1
