"""CRM pages: who may open them, what they show (masked phones), and how they behave on a phone."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from app.crm.models import Customer
from app.crm.vehicles import transfer_vehicle
from app.security import STAFF_ROLES, Role, User
from tests.browser import sign_in
from tests.factories import (
    PASSWORD,
    auth_header,
    make_customer,
    make_driver,
    make_organization,
    make_user,
    make_vehicle,
    texted_code,
)

STAFF = sorted(STAFF_ROLES)


@pytest.mark.parametrize(
    "path", ["/crm/organizations", "/crm/vehicles", "/crm/vehicles/LZZ5CLVB1KA123456", "/crm/customers/1", "/me"]
)
def test_pages_send_anonymous_visitors_to_sign_in(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("role", STAFF)
def test_organizations_page_lists_for_staff(client, session, role):
    make_organization(session, code="DLR-LIST", name="郑州重汽销售")
    headers = auth_header(session, make_user(session, role))

    response = client.get("/crm/organizations?kind=dealer", headers=headers)

    assert response.status_code == 200
    assert "郑州重汽销售" in response.text


def test_organizations_page_is_forbidden_to_drivers(client, session):
    driver, _customer = make_driver(session)

    response = client.get("/crm/organizations", headers=auth_header(session, driver))

    assert response.status_code == 403


def test_organizations_page_paginates(client, session):
    for number in range(3):
        make_organization(session, code=f"PAGE-{number}", kind="fleet")
    headers = auth_header(session, make_user(session, Role.OEM_ADMIN))

    response = client.get("/crm/organizations?kind=fleet&per_page=2&page=2&lang=en", headers=headers)

    assert "Page 2 of 2" in response.text
    assert "PAGE-2" in response.text and "PAGE-0" not in response.text


@pytest.mark.parametrize(("role", "shown"), [(Role.OEM_ADMIN, "13812345678"), (Role.DEALER_STAFF, "138****5678")])
def test_vehicle_search_by_phone_masks_for_non_oem(client, session, role, shown):
    customer = make_customer(session, phone="13812345678", name="李师傅")
    staff = make_user(session, role)
    make_vehicle(session, owner=customer, dealer_id=staff.organization_id)
    headers = auth_header(session, staff)

    response = client.get("/crm/vehicles?q=138-1234-5678", headers=headers)

    assert shown in response.text
    assert "李师傅" in response.text
    if shown != "13812345678":
        assert "13812345678" not in response.text


@pytest.mark.parametrize("query", ["vin", "plate"])
def test_vehicle_search_finds_by_vin_or_plate(client, session, query):
    vehicle = make_vehicle(session, plate="豫A12345")
    headers = auth_header(session, make_user(session, Role.SHOP_STAFF))

    response = client.get(
        "/crm/vehicles", query_string={"q": vehicle.vin if query == "vin" else "豫a 12345"}, headers=headers
    )

    assert vehicle.vin in response.text


def test_driver_vehicle_list_shows_only_their_own(client, session):
    driver, customer = make_driver(session)
    own = make_vehicle(session, owner=customer)
    other = make_vehicle(session)

    response = client.get("/crm/vehicles", headers=auth_header(session, driver))

    assert own.vin in response.text
    assert other.vin not in response.text


def test_driver_cannot_open_someone_elses_vehicle_or_record(client, session):
    driver, _customer = make_driver(session)
    other = make_vehicle(session)
    headers = auth_header(session, driver)

    vehicle_page = client.get(f"/crm/vehicles/{other.vin}", headers=headers)
    customer_page = client.get(f"/crm/customers/{other.owner_id}", headers=headers)

    assert vehicle_page.status_code == 404
    assert customer_page.status_code == 403


def test_vehicle_page_shows_ownership_history(client, session):
    first, second = make_customer(session, name="第一任"), make_customer(session, name="第二任")
    oem = make_user(session, Role.OEM_ADMIN)
    vehicle = make_vehicle(session, owner=first)
    transfer_vehicle(session, oem, vehicle, second, note="sold at auction")

    response = client.get(f"/crm/vehicles/{vehicle.vin}", headers=auth_header(session, oem))

    history = response.text.split("车主变更记录")[1]
    assert history.index("第一任") < history.index("第二任")
    assert "sold at auction" in history


def csrf_of(page) -> str:
    return page.text.split('name="csrf_token" value="')[1].split('"')[0]


def test_register_page_texts_a_code_then_creates_the_driver_and_signs_in(app, client, session):
    token = csrf_of(client.get("/register"))
    form = {"csrf_token": token, "name": "赵师傅", "phone": "+86 139 1111 2222", "password": "long-enough-1"}

    sent = client.post("/register", data={**form, "action": "send_code"})
    response = client.post("/register", data={**form, "action": "register", "code": texted_code(app, "13911112222")})

    assert "验证码" in sent.text and 'value="+86 139 1111 2222"' in sent.text
    assert response.status_code == 302
    customer = session.scalar(select(Customer).where(Customer.phone == "13911112222"))
    assert customer.user.role == Role.DRIVER
    assert client.get("/me").headers["Location"] == f"/crm/customers/{customer.id}"


@pytest.mark.parametrize(
    ("phone", "password", "message"),
    [
        ("12345", "long-enough-1", "不是有效的中国手机号"),
        ("13911112222", "short", "密码"),
        ("13911112222", "12345678", "常见"),
        ("13911112222", "13911112222", "手机号"),
    ],
)
def test_register_page_explains_bad_input_in_chinese(client, session, phone, password, message):
    token = csrf_of(client.get("/register"))

    response = client.post(
        "/register", data={"csrf_token": token, "name": "赵", "phone": phone, "password": password, "code": "123456"}
    )

    assert response.status_code == 400
    assert message in response.text
    assert session.scalar(select(User).where(User.phone == "13911112222")) is None


def test_register_page_with_a_wrong_code_says_so(client, session):
    token = csrf_of(client.get("/register"))
    form = {"csrf_token": token, "name": "赵", "phone": "13911112222", "password": "long-enough-1"}
    client.post("/register", data={**form, "action": "send_code"})

    response = client.post("/register", data={**form, "action": "register", "code": "000000"})

    assert response.status_code == 401
    assert "验证码错误或已过期" in response.text


def test_register_page_rejects_a_post_without_csrf(client):
    response = client.post("/register", data={"name": "赵", "phone": "13911112222", "password": "long-enough-1"})

    assert response.status_code == 403


def test_register_page_in_the_browser(page, committed_session, live_server, tmp_path):
    page.goto("/register")
    page.fill("input[name=name]", "钱师傅")
    page.fill("input[name=phone]", "13922223333")
    with page.expect_navigation():
        page.click("button[value=send_code]")
    code = texted_code(SimpleNamespace(instance_path=tmp_path / "instance"), "13922223333")
    page.fill("input[name=code]", code)
    page.fill("input[name=password]", "long-enough-1")
    with page.expect_navigation():
        page.click("button[value=register]")

    page.goto("/crm/vehicles")

    assert page.locator("h1").inner_text() == "我的车辆"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_vehicle_search_in_the_browser_on_a_phone(page, committed_session):
    dealer = make_user(committed_session, Role.DEALER_STAFF)
    customer = make_customer(committed_session, phone="13812345678", name="孙师傅")
    vehicle = make_vehicle(committed_session, owner=customer, plate="鲁A88888")
    committed_session.commit()
    sign_in(page, dealer.email, PASSWORD)

    page.goto("/crm/vehicles")
    page.fill("input[name=q]", "鲁A88888")
    with page.expect_navigation():
        page.click("form.search button")
    page.click(f"text={vehicle.vin}")

    assert page.locator("h1").inner_text() == vehicle.vin
    assert "138****5678" in page.locator("main").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
