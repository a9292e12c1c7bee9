"""The driver's truck journey on a 360-px phone in Chinese: add a truck (a mistyped VIN explained first), see an
installed part with its warranty on the truck's page, then call off a roadside request."""

from __future__ import annotations

import re

from sqlalchemy import select

from app.crm.models import Vehicle
from tests.browser import sign_in
from tests.factories import PASSWORD, make_driver, random_vin
from tests.network.factories import make_assistance_request
from tests.traceability.factories import install_part_on

# What a zh page may show in Latin letters: the identifiers of the truck and the part themselves.
WORD = re.compile(r"[A-Za-z]{2,}")


def english_words(page, *identifiers: str) -> list[str]:
    """Return the English words left in the page's main part once the given identifiers are taken out."""
    text = page.locator("main").inner_text()
    for identifier in identifiers:
        text = text.replace(identifier, "")
    return WORD.findall(text)


def in_viewport(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    return box is not None and box["y"] >= 0 and box["y"] + box["height"] <= page.viewport_size["height"]


def test_driver_adds_a_truck_sees_its_part_and_cancels_roadside_help(page, committed_session):
    user, customer = make_driver(committed_session)
    committed_session.commit()
    vin = random_vin()
    mistyped = vin[:8] + ("0" if vin[8] != "0" else "1") + vin[9:]
    sign_in(page, user.phone, PASSWORD)

    page.goto("/crm/vehicles")
    with page.expect_navigation():
        page.click("a[href='/crm/vehicles/new']")
    page.fill("input[name=vin]", mistyped)
    page.fill("input[name=model]", "豪沃")
    page.fill("input[name=plate]", "豫A54321")
    with page.expect_navigation():
        page.click("#add-vehicle button[type=submit]")
    explanation = page.locator("main .alert[role=alert]").inner_text()
    error_words = english_words(page, mistyped)
    error_in_view = in_viewport(page, "main .alert[role=alert]")
    page.fill("input[name=vin]", vin)
    with page.expect_navigation():
        page.click("#add-vehicle button[type=submit]")
    truck_path = page.url.split(page.url.split("/crm/")[0])[1].split("?")[0]
    vehicle = committed_session.scalar(select(Vehicle).where(Vehicle.vin == vin))
    part = install_part_on(committed_session, vin)
    job = make_assistance_request(committed_session, customer=customer, vehicle=vehicle, description="爆胎")
    # Read what the assertions need now: touching the objects after the commit would open a transaction that
    # holds SQLite's lock against the server's writes.
    serial, part_number, part_name, job_id = part.serial, part.part_type.part_number, part.part_type.name_zh, job.id
    committed_session.commit()
    page.reload()
    parts_text = page.locator("#installed-parts").inner_text()
    truck_words = english_words(page, vin, serial, part_number)
    truck_width = page.evaluate("document.documentElement.scrollWidth")
    page.goto(f"/assistance/{job_id}")
    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_navigation():
        page.click("#cancel-help button")
    status_words = english_words(page)

    assert f"第 9 位）是 {mistyped[8]}，但按其余 16 位计算应为 {vin[8]}" in explanation
    assert error_in_view
    assert error_words == []
    assert truck_path == f"/crm/vehicles/{vin}"
    assert part_name in parts_text and "质保: 有效期至" in parts_text
    assert truck_words == []
    assert truck_width <= 360
    assert "已取消" in page.locator(".roadside-status .status").inner_text()
    assert status_words == []
    committed_session.refresh(job)
    assert job.status == "cancelled"
