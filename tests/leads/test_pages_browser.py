"""Leads in Chromium on a phone: a dealer salesperson claims a lead from the pool, logs a call and converts it (zh)."""

from __future__ import annotations

from tests.browser import sign_in
from tests.factories import PASSWORD
from tests.leads.helpers import make_world, pool_lead


def test_salesperson_claims_logs_a_call_and_converts_on_a_phone(open_page, committed_session):
    world = make_world(committed_session)
    lead = pool_lead(committed_session, world)
    committed_session.commit()
    seller = world.sales[0]

    page = open_page()
    sign_in(page, seller.email, PASSWORD)
    page.goto("/leads?lang=zh")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    with page.expect_navigation():
        page.click(f"#pool button[value='{lead.id}']")
    assert page.locator("#stage").inner_text() == "销售中"
    page.select_option("#follow-up select[name=kind]", "call")
    page.select_option("#follow-up select[name=outcome]", "interested")
    page.fill("#follow-up textarea[name=body]", "下周来店做保养")
    with page.expect_navigation():
        page.click("#follow-up button[type=submit]")
    assert "下周来店做保养" in page.locator("#activities").inner_text()
    with page.expect_navigation():
        page.click("button[value=won]")

    assert page.locator("#stage").inner_text() == "已成交"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
