"""The OEM's journey through pages alone, in Chinese on a desktop: sign in, the dashboard, an alert with two
driver reports closed with a note, a recall created from the form and the affected truck it finds."""

from __future__ import annotations

import json
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

from app.security import Role
from reviews.plaques import request_reissue
from tests.browser import sign_in
from tests.factories import PASSWORD, make_organization, make_user, make_vehicle
from tests.network.factories import make_shop
from tests.traceability.factories import activation_code, make_batch, make_part_type, record, stock_parts
from traceability.alerts import raise_alert
from traceability.commissioning import list_batch_parts
from traceability.models import ProblemReport, Scan

DESKTOP = {"width": 1280, "height": 900}
# `MILEPOST_SCREENSHOTS=1 pytest tests/test_oem_browser.py` refreshes the documentation's screenshot.
SCREENSHOT = Path(__file__).resolve().parents[1] / "docs/screenshots/oem-dashboard.png"
# Words a Chinese page may show in Latin letters: the switch to the other language and standard identifiers.
ALLOWED_LATIN = {"English", "GTIN", "CSV"}

# The page's visible text without data (codes, plates): what is left must be Chinese.
VISIBLE_WORDS = """() => {
  const copy = document.body.cloneNode(true);
  copy.querySelectorAll('code, .plate, script, style').forEach(node => node.remove());
  return copy.innerText;
}"""


def english_words(page) -> list[str]:
    """Return the Latin-letter words a page shows outside data (tokens with digits are codes, not words)."""
    text = re.sub(r"\S*\d\S*", " ", page.evaluate(VISIBLE_WORDS))
    return [word for word in re.findall(r"[A-Za-z]{2,}", text) if word not in ALLOWED_LATIN]


def _arrange(session):
    oem = make_user(session, Role.OEM_ADMIN, display_name="王经理")
    shop = make_organization(session, kind="shop", name="郑州东维修站", province="Henan")
    part_type = make_part_type(session, name_zh="前制动片", name_en="Front brake pads")
    batch = make_batch(session, quantity=2, part_type=part_type)
    parts = list_batch_parts(session, batch)
    staff = stock_parts(session, parts, shop)
    vehicle = make_vehicle(session, plate="豫A88888")
    record(session, staff, "install", parts[:1], vin=vehicle.vin, activation_code=activation_code(parts[0]))
    alert_id = raise_alert(
        session, "reported_counterfeit", part=parts[1], organization_id=shop.id, details={"problem": "counterfeit"}
    )
    for message in ("包装印刷模糊", "价格只有指导价的一半"):
        session.add(
            ProblemReport(
                alert_id=alert_id,
                part_id=parts[1].id,
                organization_id=shop.id,
                problem="counterfeit",
                message=message,
                city="郑州",
                province="Henan",
            )
        )
    now = datetime.now(UTC)
    plaque_shop = make_shop(session, name="郑州西服务站")
    request_reissue(
        session,
        make_user(session, Role.SHOP_STAFF, organization=plaque_shop.organization),
        plaque_shop,
        "damaged",
        "",
        now,
    )
    for hours, verdict, lat, lon in ((1, "genuine", 34.75, 113.62), (2, "counterfeit", 34.72, 113.71)):
        session.add(
            Scan(
                part_id=parts[1].id if verdict == "genuine" else None,
                gtin=parts[1].gtin,
                serial=parts[1].serial,
                verdict=verdict,
                reasons=[] if verdict == "genuine" else ["bad_tag"],
                lat=lat,
                lon=lon,
                province="Henan",
                scanned_at=now - timedelta(hours=hours),
            )
        )
    session.commit()
    return oem, batch, vehicle, alert_id


def test_oem_closes_an_alert_and_recalls_a_batch_through_pages_in_chinese(open_page, committed_session):
    oem, batch, vehicle, alert_id = _arrange(committed_session)
    page = open_page(viewport=DESKTOP)

    sign_in(page, oem.email, PASSWORD)

    assert page.url.endswith("/oem")
    assert page.locator("h1").inner_text() == "主机厂总览"
    assert page.locator("[data-figure=open_alerts]").inner_text() == "1"
    assert page.locator("[data-figure=plaque_requests]").inner_text() == "1"
    assert page.locator("#scans-per-day svg rect").count() == 2
    page.wait_for_selector("#scan-map .map.leaflet-container")
    cells = json.loads(page.locator("#scan-map [data-map]").get_attribute("data-map"))["markers"]
    assert sorted(cell["color"] for cell in cells) == ["#1b7f3b", "#b3261e"]
    assert english_words(page) == []
    if os.environ.get("MILEPOST_SCREENSHOTS"):
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=True)

    page.click("[data-figure=open_alerts]")
    page.click(f"tr[data-alert='{alert_id}'] td:nth-child(2) a")
    assert page.locator("[data-report]").count() == 2
    assert "包装印刷模糊" in page.locator(".reports").inner_text()
    assert english_words(page) == []
    page.select_option("select[name=status]", "closed")
    page.fill("textarea[name=note]", "已核实为假货，经销商已整改")
    with page.expect_navigation():
        page.click(".status-form button[type=submit]")
    assert page.locator("h1 [data-status]").get_attribute("data-status") == "closed"
    assert "已核实为假货，经销商已整改" in page.locator(".history-log").inner_text()
    assert "王经理" in page.locator(".history-log").inner_text()
    assert english_words(page) == []

    page.click("header nav >> text=召回")
    assert english_words(page) == []
    page.check("input[name=scope][value=batch]")
    page.fill("input[name=batch]", batch.lot)
    page.fill("textarea[name=notice_zh]", "该批次制动片可能开裂，请尽快到维修站更换。")
    page.fill("textarea[name=notice_en]", "Brake pads of this batch may crack; have them replaced.")
    with page.expect_navigation():
        page.click(".recall-form button[type=submit]")

    assert page.locator("[data-vin]").all_inner_texts()[0].startswith(vehicle.vin)
    assert "豫A88888" in page.locator(f"[data-vin='{vehicle.vin}']").inner_text()
    assert "2 个配件已标记" in page.locator(".notice").inner_text()
    assert english_words(page) == []
