"""The scan page in headless chromium at phone size: genuine, counterfeit and installed parts, zh and en."""

from __future__ import annotations

from tests.factories import make_organization, make_vehicle
from tests.traceability.factories import activation_code, make_batch, record, stock_parts
from traceability.codes import build_part_url
from traceability.commissioning import list_batch_parts


def _path(part) -> str:
    return build_part_url("", part.gtin, part.serial, part.tag)


def test_scan_page_shows_genuine_part_in_chinese_then_english(page, committed_session):
    part = list_batch_parts(committed_session, make_batch(committed_session, quantity=1))[0]
    committed_session.commit()

    page.goto(_path(part))

    assert page.locator(".verdict").get_attribute("data-verdict") == "genuine"
    assert "正品配件" in page.locator(".verdict h1").inner_text()
    assert part.serial in page.content()
    page.get_by_text("English").click()
    assert page.locator(".verdict h1").inner_text() == "Genuine part"


def test_scan_page_shows_forged_code_as_counterfeit(page, committed_session):
    part = list_batch_parts(committed_session, make_batch(committed_session, quantity=1))[0]
    committed_session.commit()

    page.goto(_path(part)[:-4] + "WXYZ")

    assert page.locator(".verdict").get_attribute("data-verdict") == "counterfeit"
    assert "假冒" in page.locator(".verdict h1").inner_text()
    assert page.locator(".reasons li").get_attribute("data-reason") == "bad_tag"
    assert page.locator(".reasons li").inner_text() == "防伪校验码不符：此标签不是厂家印制的。"


def test_scan_page_shows_installed_part_with_masked_vehicle_and_warranty(page, committed_session):
    part = list_batch_parts(committed_session, make_batch(committed_session, quantity=1))[0]
    staff = stock_parts(committed_session, [part], make_organization(committed_session, kind="dealer"))
    vehicle = make_vehicle(committed_session)
    record(committed_session, staff, "install", [part], vin=vehicle.vin, activation_code=activation_code(part))
    committed_session.commit()

    page.goto(_path(part) + "&lang=en")

    text = page.locator("main").inner_text()
    assert page.locator(".verdict").get_attribute("data-verdict") == "installed"
    assert vehicle.vin[-4:] in text and vehicle.vin not in text
    assert "Warranty: valid until" in " ".join(text.split())


def test_report_a_problem_from_the_scan_page(page, committed_session):
    part = list_batch_parts(committed_session, make_batch(committed_session, quantity=1))[0]
    committed_session.commit()
    page.goto(_path(part) + "&lang=en")

    page.get_by_text("Report a problem").click()
    page.locator("select[name=problem]").select_option("used_as_new")
    page.get_by_role("button", name="Send report").click()

    assert "Your report was sent" in page.locator("main").inner_text()
