"""The shop's plaque journey on a 360-px phone in zh: view, print on A5, ask for a new plaque; the OEM issues it."""

from __future__ import annotations

from app.db import utcnow
from app.security import Role
from app.signing import KeyRing
from reviews.models import CertificationState
from reviews.plaques import active_plaque, issue_plaque
from tests.browser import sign_in
from tests.conftest import TEST_KEYS
from tests.factories import PASSWORD, make_user
from tests.reviews.factories import make_shop, make_shop_staff

LONG_NAME = "河南省郑州市中原区连霍高速郑州西收费站北侧重型卡车综合维修保养与道路救援服务中心"


def test_shop_prints_its_plaque_and_asks_for_a_new_one_which_the_oem_issues(open_page, committed_session):
    shop = make_shop(committed_session, name=LONG_NAME)
    committed_session.add(CertificationState(shop_id=shop.id, tier="gold", kpis={}))
    issue_plaque(committed_session, KeyRing.from_spec(TEST_KEYS), shop, None, utcnow())
    staff, oem = make_shop_staff(committed_session, shop), make_user(committed_session, Role.OEM_ADMIN)
    committed_session.commit()
    page = open_page()
    sign_in(page, staff.email, PASSWORD)

    page.goto("/")
    page.click("[data-tile=plaque] a")
    tier = page.locator("#plaque-tier").inner_text()
    page.click("#print-plaque")
    page.emulate_media(media="print")
    name = page.locator("#plaque-name")
    fits = name.evaluate("e => e.scrollWidth <= e.clientWidth && e.getBoundingClientRect().width > 0")
    printed = name.inner_text()
    sheet_height = page.locator("#plaque-sheet").evaluate("e => e.getBoundingClientRect().height")
    page.emulate_media(media="screen")
    page.go_back()
    page.select_option("select[name=reason]", "damaged")
    page.fill("textarea[name=note]", "台风刮坏了认证牌")
    with page.expect_navigation():
        page.click("#reissue-form button[type=submit]")
    open_note = page.locator("#open-request").inner_text()
    desk = open_page(viewport={"width": 1280, "height": 900})
    sign_in(desk, oem.email, PASSWORD)
    desk.goto("/certification/board")
    row = desk.locator(f"#plaque-requests tr[data-shop='{shop.code}']")
    reason = row.inner_text()
    with desk.expect_navigation():
        row.locator("button.reissue-button").click()

    assert tier == "金牌"
    assert printed == LONG_NAME and fits
    # An A5 page is 210 mm tall, 8 mm margins: the sheet must stay within one page (1 mm = 96/25.4 px).
    assert sheet_height <= (210 - 16) * 96 / 25.4
    assert "认证牌损坏" in open_note
    assert "认证牌损坏" in reason and "台风刮坏了认证牌" in reason
    assert f"{shop.code} #2" in desk.locator("#reissued-notice").inner_text()
    committed_session.expire_all()
    assert active_plaque(committed_session, shop).number == 2
