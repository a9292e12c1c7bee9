"""Issue 14 item 6 in the browser (zh, 360-px phone): a driver downloads their data from their page, then closes
the account with the code texted to the phone and can no longer sign in."""

from __future__ import annotations

import json
import re
import zipfile

from sqlalchemy import select

from app.crm.models import Customer
from app.sms import read_outbox
from tests.app.crm.test_truck_pages_browser import english_words
from tests.browser import sign_in
from tests.factories import PASSWORD, make_driver, make_vehicle


def test_driver_downloads_their_data_and_closes_the_account(page, committed_session, tmp_path):
    user, customer = make_driver(committed_session)
    vehicle = make_vehicle(committed_session, owner=customer, plate="豫A77777")
    phone, vin, customer_id = user.phone, vehicle.vin, customer.id
    committed_session.commit()
    sign_in(page, phone, PASSWORD)

    page.goto("/me")
    with page.expect_navigation():
        page.click("a[href='/me/data']")
    data_words = english_words(page, "JSON", "zip", "Milepost")
    width = page.evaluate("document.documentElement.scrollWidth")
    with page.expect_download() as download_info:
        page.click("#export button[value=export]")
    archive_path = tmp_path / "copy.zip"
    download_info.value.save_as(archive_path)
    with zipfile.ZipFile(archive_path) as archive:
        copy = json.loads(archive.read("personal-data.json"))
        summary = archive.read("README.txt").decode()
    with page.expect_navigation():
        page.click("#close button[value=send_code]")
    texts = read_outbox(tmp_path / "instance" / "sms.log")
    code = re.search(r"\d{6}", texts[-1]["text"]).group(0)
    page.fill("#close input[name=code]", code)
    page.check("#close input[name=confirm]")
    with page.expect_navigation():
        page.click("#close button[value=close]")
    closed_text = page.locator("main").inner_text()
    closed_words = english_words(page, "Milepost")
    sign_in(page, phone, PASSWORD)
    refused = page.url.endswith("/login")
    committed_session.expire_all()
    erased = committed_session.scalar(select(Customer.erased_at).where(Customer.id == customer_id))

    assert data_words == []
    assert width <= 360
    assert copy["parts"]["crm"]["vehicles"][0]["vin"] == vin
    assert "Milepost 保存的关于您的全部信息" in summary and "crm.vehicles：1 条" in summary
    assert texts[-1]["to"] == phone
    assert "账户已注销" in closed_text and closed_words == []
    assert refused
    assert erased is not None
