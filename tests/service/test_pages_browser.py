"""The service desk in Chromium: a driver asks, an agent takes it, answers with a canned answer and resolves it,
and the driver answers the survey from the link in their request."""

from __future__ import annotations

from app.security import Role
from service.canned import create_canned_answer
from service.queues import add_member, ensure_oem_queues
from tests.browser import sign_in
from tests.factories import PASSWORD, make_driver, make_user, make_vehicle

DESKTOP = {"width": 1280, "height": 900}


def test_agent_takes_answers_with_a_canned_answer_and_resolves_and_the_driver_rates_it(open_page, committed_session):
    user, customer = make_driver(committed_session)
    make_vehicle(committed_session, owner=customer, plate="豫A12345")
    agent = make_user(committed_session, Role.OEM_ADMIN, display_name="客服小王")
    add_member(committed_session, ensure_oem_queues(committed_session)["oem:desk"], agent, capacity=0)
    create_canned_answer(
        committed_session,
        shortcut="/xl",
        title="修理进度",
        bodies={"zh": "您好，车辆 {vehicle.plate} 正在修理。", "en": "Truck {vehicle.plate} is being repaired."},
    )
    committed_session.commit()

    driver = open_page()
    sign_in(driver, user.phone, PASSWORD)
    driver.goto("/service/new?code=SPN%20100%20FMI%201")
    driver.select_option("#request-form select[name=category]", "other")
    driver.fill("#request-form textarea[name=text]", "空调不制冷")
    with driver.expect_navigation():
        driver.click("#request-form button[type=submit]")
    number = driver.locator("h1").inner_text()
    assert number.startswith("SR-")
    assert driver.evaluate("document.documentElement.scrollWidth") <= 360

    desk = open_page(viewport=DESKTOP)
    sign_in(desk, agent.email, PASSWORD)
    desk.goto("/service/console")
    with desk.expect_navigation():
        desk.click(f"#waiting a:text('{number}')")
    with desk.expect_navigation():
        desk.click("#take")
    assert "客服小王" in desk.locator(".assignee").inner_text()
    desk.select_option(".canned-pick select[name=canned]", "/xl")
    with desk.expect_navigation():
        desk.click(".canned-pick button[type=submit]")
    assert desk.input_value(".composer textarea") == "您好，车辆 豫A12345 正在修理。"
    with desk.expect_navigation():
        desk.click("#send")
    desk.select_option(".status-form select[name=status]", "resolved")
    with desk.expect_navigation():
        desk.click("#set-status")
    assert desk.locator(".status").first.inner_text() == "已解决"
    assert "已达成" in desk.locator(".clock").first.inner_text()

    driver.reload()
    assert "豫A12345 正在修理" in driver.locator(".messages").inner_text()
    with driver.expect_navigation():
        driver.click("a.survey-link")
    driver.check("input[name=solved][value=yes]")
    driver.check("input[name=stars][value='5']")
    with driver.expect_navigation():
        driver.click("form.stack button[type=submit]")
    assert "感谢" in driver.locator(".thanks").inner_text()
    driver.reload()
    assert "已提交过" in driver.locator(".alert").inner_text()
