"""Counter and factory journeys in headless chromium, in Chinese, through pages only.

(a) A shop on a 360-px phone receives parts by typed code, installs one on a VIN with its activation code, and the
driver then finds the part on the truck. (b) A factory on a desktop commissions a batch and opens its labels.
Every page of both journeys is checked for English left over (data such as serials and codes aside).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from app.crm.models import Organization
from app.security import Role
from tests.browser import sign_in
from tests.factories import PASSWORD, make_driver, make_organization, make_user, make_vehicle
from tests.network.factories import make_shop
from tests.traceability.factories import activation_code, make_batch, make_part_type, part_url, record
from traceability.commissioning import list_batch_parts

DESKTOP = {"width": 1280, "height": 800}
# Latin letters a Chinese page may show: units, standards and the language switch.
ALLOWED_LATIN = {"VIN", "QR", "CNY", "zip", "English", "km", "https", "SN", "GTIN"}


def _screenshot(page, name: str) -> None:
    """Save the page to MILEPOST_SCREENSHOTS/<name>.png when that folder is given (how docs/screenshots are made)."""
    folder = os.environ.get("MILEPOST_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def english_left(page, *data: str) -> list[str]:
    """Return the Latin words a page shows besides its data (codes, names typed by people) and ALLOWED_LATIN."""
    text = page.inner_text("body")
    for value in sorted((value for value in data if value), key=len, reverse=True):
        text = text.replace(value, " ")
    return [word for word in re.findall(r"[A-Za-z]{2,}", text) if word not in ALLOWED_LATIN]


def test_shop_receives_installs_a_scanned_code_on_a_vin_and_the_drivers_truck_page_shows_the_part(
    open_page, committed_session
):
    session = committed_session
    shop = make_shop(session, name="郑州东服务站")
    organization = session.get(Organization, shop.organization_id)
    part_type = make_part_type(session, name_zh="机油滤清器", name_en="Oil filter")
    batch = make_batch(session, quantity=2, part_type=part_type)
    parts = list_batch_parts(session, batch)
    record(session, make_user(session, Role.FACTORY_STAFF, parts[0].holder), "ship", parts, to=organization.code)
    staff = make_user(session, Role.SHOP_STAFF, organization, display_name="刘师傅")
    driver, customer = make_driver(session)
    vehicle = make_vehicle(session, owner=customer)
    session.commit()
    data = [staff.login, shop.code, vehicle.vin, *(part.serial for part in parts)]

    page = open_page()
    sign_in(page, staff.login, PASSWORD)
    page.goto("/")
    assert english_left(page, *data) == []
    menu = page.locator("#menu")
    assert not menu.is_visible()
    page.click(".menu-toggle")
    assert menu.is_visible() and "柜台" in menu.inner_text()
    page.click(".menu-toggle")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    with page.expect_navigation():
        page.click("[data-tile=receive] a")
    page.fill("textarea[name=codes]", "\n".join(part.serial for part in parts))
    with page.expect_navigation():
        page.click(".counter-form button[type=submit]")
    assert "2 个已接受，0 个被拒绝" in page.inner_text(".outcomes")
    _screenshot(page, "counter-receive")
    assert page.locator(".outcome.accepted").count() == 2
    assert english_left(page, *data) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 360

    with page.expect_navigation():
        page.click(".tabs a[href$='action=install']")
    page.fill("input[name=vin]", vehicle.vin)
    # The code as the camera reads it off the label (its whole URL), then the activation code from under the foil.
    page.fill("textarea[name=codes]", f"{part_url(parts[0])} {activation_code(parts[0])}")
    with page.expect_navigation():
        page.click(".counter-form button[type=submit]")
    outcome = page.locator(".outcome").first
    assert "已接受" in outcome.inner_text() and "机油滤清器" in outcome.inner_text()
    assert english_left(page, *data) == []

    driver_page = open_page()
    sign_in(driver_page, driver.phone, PASSWORD)
    with driver_page.expect_navigation():
        driver_page.click("[data-tile=trucks] a")
    with driver_page.expect_navigation():
        driver_page.click(f"a[href$='/crm/vehicles/{vehicle.vin}']")
    fitted = driver_page.inner_text("main")
    assert "机油滤清器" in fitted
    assert parts[0].serial in fitted
    assert parts[1].serial not in fitted
    assert (
        english_left(driver_page, *data, vehicle.model, organization.name, part_type.part_number, driver.display_name)
        == []
    )


def test_factory_commissions_a_batch_on_a_desktop_and_opens_its_labels(open_page, committed_session):
    session = committed_session
    factory = make_organization(session, kind="factory", name="济南齿轮厂", code="FAC-JN")
    part_type = make_part_type(session, name_zh="制动蹄片总成", name_en="Brake shoe assembly")
    staff = make_user(session, Role.FACTORY_STAFF, factory, display_name="赵工")
    session.commit()

    page = open_page(viewport=DESKTOP)
    sign_in(page, staff.login, PASSWORD)
    page.goto("/")
    assert english_left(page, staff.login) == []
    with page.expect_navigation():
        page.click("[data-tile=commission] a")
    assert english_left(page, staff.login, part_type.part_number) == []
    page.select_option("select[name=part_number]", part_type.part_number)
    page.fill("input[name=production_line]", "二号线")
    page.fill("input[name=qc_inspector]", "孙工")
    page.fill("input[name=quantity]", "abc")
    with page.expect_navigation():
        page.click(".commission-form button[type=submit]")
    assert "数量" in page.inner_text("#form-error")
    assert english_left(page, staff.login, part_type.part_number) == []
    page.fill("input[name=quantity]", "6")
    with page.expect_navigation():
        page.click(".commission-form button[type=submit]")

    assert "批次已赋码" in page.inner_text("main")
    _screenshot(page, "factory-batch")
    lot = page.locator("h1").inner_text().split()[-1]
    assert english_left(page, staff.login, part_type.part_number, lot) == []
    with page.context.expect_page() as opened:
        page.click("text=打开打印页")
    sheet = opened.value
    sheet.wait_for_load_state()
    assert sheet.locator(".label").count() == 6
    assert sheet.locator(".label").first.inner_text().count("制动蹄片总成") == 1
    with page.expect_download() as download:
        page.click("a[href$='labels.zip?page=1']")
    assert download.value.suggested_filename == f"labels-{lot}-1.zip"


def test_vendored_decoder_reads_a_label_and_the_camera_button_shows_on_127_0_0_1(open_page, committed_session):
    import base64

    from traceability.labels import qr_png

    staff = make_user(committed_session, Role.WAREHOUSE_STAFF, make_organization(committed_session, kind="warehouse"))
    committed_session.commit()
    url = "https://mp.test/01/06909999000012/21/7K3M9QX2ZP4A?c=B0123456789ABCDEF"
    image = "data:image/png;base64," + base64.b64encode(qr_png(url)).decode()
    page = open_page()
    sign_in(page, staff.login, PASSWORD)
    page.goto("/counter")

    # 127.0.0.1 is a secure context: the camera button is offered, the https hint is not.
    assert page.locator("[data-scanner-start]").is_visible()
    assert not page.locator("[data-scanner-insecure]").is_visible()
    decoded = page.evaluate(
        """([source, image]) => new Promise((resolve, reject) => {
            const script = document.createElement("script");
            script.src = source;
            script.onerror = reject;
            script.onload = () => {
                const picture = new Image();
                picture.onload = () => {
                    const canvas = document.createElement("canvas");
                    canvas.width = picture.width; canvas.height = picture.height;
                    const context = canvas.getContext("2d");
                    context.drawImage(picture, 0, 0);
                    const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
                    resolve(window.jsQR(pixels.data, canvas.width, canvas.height).data);
                };
                picture.src = image;
            };
            document.head.appendChild(script);
        })""",
        [page.get_attribute("[data-scanner]", "data-jsqr"), image],
    )
    assert decoded == url
