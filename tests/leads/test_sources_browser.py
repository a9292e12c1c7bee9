"""The two forms that bring people in by hand, in Chromium on a 360-px phone in Chinese: a shop refers a driver to
a dealer, a dealer records a walk-in; once the leads job has run, the person waits in the dealer's pool."""

from __future__ import annotations

from app.db import utcnow
from app.phones import mask_phone
from app.security import Role
from leads.rules import advance_leads
from service.calendars import next_opening
from tests.browser import sign_in
from tests.factories import PASSWORD, make_organization, make_user, make_vehicle
from tests.leads.helpers import make_world, settings

PHONE = "13912345678"


def _fits_the_phone(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth") <= 360


def _run_the_leads_job(session) -> None:
    """Take the new touchpoint in and dispatch it, at the dealers' next working hour (a new lead waits for it)."""
    rules = settings()
    advance_leads(session, rules, next_opening(rules.calendar, utcnow()))
    session.commit()


def _fill_in(page, form: str, vin: str, interest: str, box: str) -> str:
    """Fill the form's person fields (the phone, a truck, an interest), tick its box, send it; return the notice."""
    page.fill(f"{form} input[name=phone]", PHONE)
    page.fill(f"{form} input[name=vin]", vin)
    page.select_option(f"{form} select[name=interest]", interest)
    page.check(f"{form} input[name={box}]")
    with page.expect_navigation():
        page.click(f"{form} button[type=submit]")
    assert _fits_the_phone(page)
    return page.locator("#done").inner_text()


def _pool_text(page) -> str:
    page.goto("/leads?lang=zh")
    assert _fits_the_phone(page)
    return page.locator("#pool").inner_text()


def test_a_shop_refers_a_driver_and_the_dealer_finds_them_in_its_pool(open_page, committed_session):
    world = make_world(committed_session)
    shop = make_organization(committed_session, kind="shop", province="Hubei", name="武汉服务站")
    staff = make_user(committed_session, Role.SHOP_STAFF, shop)
    truck = make_vehicle(committed_session, odometer_km=350_000)
    committed_session.commit()

    page = open_page()
    sign_in(page, staff.email, PASSWORD)
    page.goto("/leads/refer?lang=zh")
    assert _fits_the_phone(page)
    page.select_option("#referral select[name=dealer]", world.dealer.code)
    notice = _fill_in(page, "#referral", truck.vin, "extended_warranty", "agreed")
    assert notice == "谢谢！经销商会联系这位司机。"
    _run_the_leads_job(committed_session)

    dealer_page = open_page()
    sign_in(dealer_page, world.sales[0].email, PASSWORD)
    pool = _pool_text(dealer_page)

    assert mask_phone(PHONE) in pool
    assert "服务站推荐" in pool


def test_a_dealer_records_a_walk_in_and_finds_the_visitor_in_its_pool(open_page, committed_session):
    world = make_world(committed_session)
    truck = make_vehicle(committed_session, odometer_km=350_000)
    committed_session.commit()
    seller = world.sales[0]

    page = open_page()
    sign_in(page, seller.email, PASSWORD)
    page.goto("/leads/walk-in?lang=zh")
    assert _fits_the_phone(page)
    notice = _fill_in(page, "#walk-in", truck.vin, "new_truck", "offers")
    assert notice == "已登记：该客户稍后会出现在您的线索池中。"
    _run_the_leads_job(committed_session)

    pool = _pool_text(page)

    assert mask_phone(PHONE) in pool
    assert "到店" in pool


def test_a_manager_opens_a_campaign_sees_its_landing_and_ends_it(open_page, committed_session):
    world = make_world(committed_session)
    committed_session.commit()

    page = open_page()
    sign_in(page, world.manager.email, PASSWORD)
    page.goto("/leads?lang=zh")
    with page.expect_navigation():
        page.click("#campaigns-link")
    assert _fits_the_phone(page)
    page.fill("#open-campaign input[name=code]", "EW-2026")
    page.fill("#open-campaign input[name=title_zh]", "延保限时优惠")
    page.fill("#open-campaign input[name=title_en]", "Extended warranty offer")
    page.select_option("#open-campaign select[name=interest]", "extended_warranty")
    page.fill("#open-campaign input[name=consent_text_version]", "ew-consent-v3")
    with page.expect_navigation():
        page.click("#open-campaign button[type=submit]")

    visitor = open_page()
    visitor.goto("/c/EW-2026?lang=zh")
    visitor.fill("#campaign input[name=phone]", PHONE)
    visitor.check("#campaign input[name=agreed]")
    with visitor.expect_navigation():
        visitor.click("#campaign button[type=submit]")

    page.reload()
    listed = page.locator("#campaign-EW-2026").inner_text()
    with page.expect_navigation():
        page.click("#campaign-EW-2026 button[type=submit]")
    after = page.locator("#campaign-EW-2026").inner_text()

    assert "延保限时优惠" in listed and "1 条留资" in listed and "进行中" in listed
    assert "已结束" in after and page.locator("#campaign-EW-2026 button").count() == 0
    assert _fits_the_phone(page)
    assert visitor.goto("/c/EW-2026").status == 404
