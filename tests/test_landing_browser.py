"""Every role's start page in headless chromium: phone-sized for the roles that work on a phone, desktop for the
factory and the OEM; tiles fit the screen and the menu folds. With MILEPOST_SCREENSHOTS=docs/screenshots set, the
test also saves each page as home-<role>.png (how the screenshots in docs/ were made)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.crm.models import Organization
from app.security import Role
from tests.browser import PHONE_VIEWPORT, sign_in
from tests.factories import PASSWORD, make_customer, make_organization, make_user, make_vehicle
from tests.network.factories import make_shop
from tests.traceability.factories import install_part_on, make_batch, make_part_type, stock_parts
from traceability.commissioning import list_batch_parts
from traceability.recalls import create_recall

DESKTOP = {"width": 1280, "height": 800}
PHONE_ROLES = {Role.DRIVER, Role.SHOP_STAFF, Role.DEALER_STAFF, Role.WAREHOUSE_STAFF}


def _user_with_work(session, role: str):
    """Return a user of `role` whose start page has something to count."""
    part_type = make_part_type(session, name_zh="机油滤清器", name_en="Oil filter")
    if role == Role.DRIVER:
        user = make_user(session, role, display_name="周师傅")
        customer = make_customer(session, user=user)
        vehicle = make_vehicle(session, owner=customer, plate="豫A12345")
        part = install_part_on(session, vehicle.vin, part_type=part_type)
        oem = make_user(session, Role.OEM_ADMIN)
        create_recall(
            session,
            oem,
            notice_zh="该批次滤清器密封圈可能老化，请到服务站免费更换。",
            notice_en="Seal may age.",
            batch_id=part.batch_id,
        )
        session.refresh(user)  # create_recall expires everything; reading it later would open a transaction
        return user
    if role == Role.SHOP_STAFF:
        shop = make_shop(session, name="郑州东服务站")
        organization = session.get(Organization, shop.organization_id)
    elif role == Role.FACTORY_STAFF:
        organization = make_organization(session, kind="factory", name="济南滤清器厂")
        user = make_user(session, role, organization, display_name="赵工")
        make_batch(session, quantity=12, part_type=part_type, factory=organization, created_by=user)
        return user
    elif role == Role.OEM_ADMIN:
        return make_user(session, role, display_name="主机厂管理员")
    else:
        kind = "dealer" if role == Role.DEALER_STAFF else "warehouse"
        organization = make_organization(session, kind=kind, name="郑州配件中心")
    parts = list_batch_parts(session, make_batch(session, quantity=4, part_type=part_type))
    staff = stock_parts(session, parts, organization)
    staff.display_name = "刘经理"
    return staff


@pytest.mark.parametrize("role", list(Role))
def test_start_page_of_each_role(open_page, committed_session, role):
    user = _user_with_work(committed_session, role)
    committed_session.commit()
    phone = role in PHONE_ROLES
    page = open_page(viewport=PHONE_VIEWPORT if phone else DESKTOP)
    sign_in(page, user.login, PASSWORD)
    page.goto("/")

    assert page.locator(f"ul.tiles[data-role={role.value}] li").count() >= 4
    assert user.display_name in page.inner_text(".topbar .who")
    if role == Role.DRIVER:
        assert "召回" in page.inner_text(".landing-warning") and "豫A12345" in page.inner_text(".landing-warning")
    if phone:
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE_VIEWPORT["width"]
        assert not page.locator("#menu").is_visible()
    else:
        assert page.locator("#menu").is_visible()
    folder = os.environ.get("MILEPOST_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"home-{role.value}.png"), full_page=True)
